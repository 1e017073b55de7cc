#include "store/pg_conn.h"

#include <algorithm>
#include <cstdlib>

namespace growhook::pg {

Params& Params::push(std::string v) {
  values_.push_back(std::move(v));
  nulls_.push_back(false);
  return *this;
}

Params& Params::add_null() {
  values_.emplace_back();
  nulls_.push_back(true);
  return *this;
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> p(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) p[i] = nulls_[i] ? nullptr : values_[i].c_str();
  return p;
}

std::string text_array(std::span<const std::string> values) {
  std::string out = "{";
  for (const auto& v : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string int_array(std::span<const int64_t> values) {
  std::string out = "{";
  for (int64_t v : values) {
    if (out.size() > 1) out += ',';
    out += std::to_string(v);
  }
  out += '}';
  return out;
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is invalid.
size_t utf8_sequence(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
  if (overlong || surrogate || cp > 0x10ffff) return 0;
  return n;
}

}  // namespace

// Notices ("relation already exists, skipping") are not errors; libpq would
// print them on stderr.
void ignore_notice(void*, const char*) {}

std::string clean_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence(s, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD
      ++i;
    } else {
      if (!(n == 1 && s[i] == '\0')) out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

PgResult& PgResult::operator=(PgResult&& o) noexcept {
  if (this != &o) {
    PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}

int64_t PgResult::affected() const {
  const char* n = PQcmdTuples(r_);
  return (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
}

int64_t PgResult::i64(int row, int col) const {
  const char* v = PQgetvalue(r_, row, col);
  return std::strtoll(v, nullptr, 10);
}

Error pg_error(PGconn* c, const PGresult* r, std::string_view what) {
  std::string msg = "PostgreSQL";
  if (!what.empty()) msg += " " + std::string(what);
  msg += ": ";
  const char* text = r ? PQresultErrorMessage(r) : nullptr;
  msg += (text && *text) ? text : PQerrorMessage(c);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (c == nullptr || PQstatus(c) != CONNECTION_OK) return Error::unavailable(msg);
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string_view code = state ? state : "";
  if (code.empty()) return Error::unavailable(msg);  // no server answer: the connection failed
  std::string_view cls = code.substr(0, 2);
  // 08 connection, 53 resources (disk full, too many connections), 57 operator
  // intervention (shutdown, statement timeout), 40 serialization or deadlock,
  // 55P03 lock not available, 58 system I/O.
  if (cls == "08" || cls == "53" || cls == "57" || cls == "40" || cls == "58" || code == "55P03")
    return Error::unavailable(msg);
  if (cls == "23") return Error::conflict(msg);
  return Error::internal(msg);
}

Conn::Options Conn::options_for(const std::string& url) {
  // Our defaults come first so that the url's own settings override them;
  // the encoding comes last because every query here speaks UTF-8.
  Options o;
  o.keywords = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
                "application_name", "dbname", "client_encoding", nullptr};
  o.values = {"10", "1", "30", "10", "3", "growhook", url.c_str(), "UTF8", nullptr};
  return o;
}

Result<std::unique_ptr<Conn>> Conn::connect(const std::string& url) {
  auto o = options_for(url);
  PGconn* c = PQconnectdbParams(o.keywords.data(), o.values.data(), /*expand_dbname=*/1);
  if (c == nullptr) return Error::unavailable("PostgreSQL: out of memory");
  std::unique_ptr<Conn> conn(new Conn(c));
  if (PQstatus(c) != CONNECTION_OK) return pg_error(c, nullptr, "connect");
  PQsetNoticeProcessor(c, &ignore_notice, nullptr);
  if (auto s = conn->after_connect(); !s.ok()) return s.error();
  return conn;
}

Conn::~Conn() { PQfinish(c_); }

Status Conn::after_connect() {
  prepared_.clear();
  // A hung statement or lock wait must not hold a caller for ever.
  return exec_simple(kSessionSetupSql);
}

Status Conn::ensure_connected() {
  // An idle connection that the server closed (a restart, an idle timeout)
  // has its goodbye and the end of stream waiting on the socket: read them
  // now (libpq never blocks here) rather than fail the caller's statement.
  for (int i = 0; i < 2 && PQstatus(c_) == CONNECTION_OK; ++i) {
    if (PQconsumeInput(c_) == 0) break;
    (void)PQisBusy(c_);  // parses what arrived
  }
  if (PQstatus(c_) == CONNECTION_OK) return ok_status();
  PQreset(c_);
  if (PQstatus(c_) != CONNECTION_OK) return pg_error(c_, nullptr, "reconnect");
  return after_connect();
}

namespace {

// Whether a statement that failed because the connection was gone may run
// again on a new connection. ensure_connected finds a connection that the
// server closed while it was idle, but only once the server's goodbye has
// arrived; a backend being terminated at that moment (a restart, an
// administrator's pg_terminate_backend) still looks alive. A statement sent
// then never ran; it is worth sending again only when that cannot repeat an
// effect: it was sent outside a transaction and either opens one (BEGIN) or
// only reads (SELECT).
bool may_resend(std::string_view sql, bool was_idle) {
  return was_idle && (sql.starts_with("BEGIN") || sql.starts_with("SELECT"));
}

}  // namespace

bool Conn::reopen_after_loss() {
  if (!broken()) return false;  // the statement failed, not the connection
  PQreset(c_);
  return !broken() && after_connect().ok();
}

Result<PgResult> Conn::exec(const char* sql, const Params& params) {
  const bool resend = may_resend(sql, PQtransactionStatus(c_) == PQTRANS_IDLE);
  auto r = exec_once(sql, params);
  if (!r.ok() && resend && reopen_after_loss()) return exec_once(sql, params);
  return r;
}

Status Conn::exec_simple(const std::string& sql) {
  const bool resend = may_resend(sql, PQtransactionStatus(c_) == PQTRANS_IDLE);
  auto s = exec_simple_once(sql);
  if (!s.ok() && resend && reopen_after_loss()) return exec_simple_once(sql);
  return s;
}

Result<PgResult> Conn::exec_once(const char* sql, const Params& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "gh" + std::to_string(next_name_++);
    PgResult r(PQprepare(c_, name.c_str(), sql, 0, nullptr));
    if (PQresultStatus(r.raw()) != PGRES_COMMAND_OK) return error_of(r.raw(), sql);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  auto values = params.pointers();
  PgResult r(PQexecPrepared(c_, it->second.c_str(), params.size(), values.data(), nullptr, nullptr, 0));
  auto st = PQresultStatus(r.raw());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return error_of(r.raw(), sql);
  return r;
}

Status Conn::exec_simple_once(const std::string& sql) {
  PgResult r(PQexec(c_, sql.c_str()));
  auto st = PQresultStatus(r.raw());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return error_of(r.raw(), sql);
  return ok_status();
}

bool Conn::make_idle() {
  if (PQstatus(c_) != CONNECTION_OK) return false;
  switch (PQtransactionStatus(c_)) {
    case PQTRANS_IDLE: return true;
    case PQTRANS_INTRANS:
    case PQTRANS_INERROR: return exec_simple("ROLLBACK").ok();
    default: return false;  // a command still active or the state is unknown
  }
}

Error Conn::error_of(const PGresult* r, std::string_view what) const {
  // The statement's text is too long for a message; its first words tell.
  std::string_view head = what.substr(0, std::min<size_t>(what.size(), 60));
  return pg_error(c_, r, head);
}

}  // namespace growhook::pg
