#include "store/pg_conn.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "common/metrics.h"

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

Conn::Options Conn::options_for(const std::string& url, const DbLimits& limits) {
  // Our defaults come first so that the url's own settings override them;
  // the encoding comes last because every query here speaks UTF-8.
  Options o;
  o.timeouts = std::make_unique<PgConnectTimeouts>(pg_connect_timeouts(limits));
  const PgConnectTimeouts& t = *o.timeouts;
  o.keywords = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
                "tcp_user_timeout", "application_name", "dbname", "client_encoding", nullptr};
  o.values = {t.connect_timeout_s.c_str(), "1", t.keepalives_idle_s.c_str(), t.keepalives_interval_s.c_str(),
              t.keepalives_count.c_str(), t.tcp_user_timeout_ms.c_str(), "growhook", url.c_str(), "UTF8",
              nullptr};
  return o;
}

namespace {

int64_t mono_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

Result<std::unique_ptr<Conn>> Conn::connect(const std::string& url, const DbLimits& limits, DbCallStats* stats) {
  auto o = options_for(url, limits);
  int64_t started = mono_ms();
  PGconn* c = PQconnectdbParams(o.keywords.data(), o.values.data(), /*expand_dbname=*/1);
  if (c == nullptr) return Error::unavailable("PostgreSQL: out of memory");
  std::unique_ptr<Conn> conn(new Conn(c, limits, stats));
  if (PQstatus(c) != CONNECTION_OK) {
    if (stats) stats->failed(DbCallStats::Failure::kConnection, (mono_ms() - started) / 1000.0);
    return pg_error(c, nullptr, "connect");
  }
  PQsetNoticeProcessor(c, &ignore_notice, nullptr);
  if (auto s = conn->after_connect(); !s.ok()) return s.error();
  return conn;
}

Conn::~Conn() { PQfinish(c_); }

Status Conn::after_connect() {
  prepared_.clear();
  dropped_ = false;
  if (auto s = set_blocking_for_limits(); !s.ok()) return s;
  // A hung statement, lock wait or abandoned transaction must not hold a
  // caller, or the rows it locked, for ever.
  return exec_simple(pg_session_timeouts_sql(limits_) + "; " + kPlanCacheSql);
}

Status Conn::set_blocking_for_limits() {
  // The client's deadline needs a socket that never blocks. Without a bound
  // the connection blocks as libpq's default does, for callers that stream
  // through raw() (growhook migrate's COPY: PQputCopyData would otherwise
  // refuse a chunk whenever the socket's buffer is full).
  if (PQsetnonblocking(c_, limits_.timeout_ms > 0 ? 1 : 0) != 0)
    return pg_error(c_, nullptr, "setting the connection's blocking mode");
  return ok_status();
}

Status Conn::set_limits(const DbLimits& limits) {
  limits_ = limits;
  if (auto s = set_blocking_for_limits(); !s.ok()) return s;
  return exec_simple(pg_session_timeouts_sql(limits_));
}

Status Conn::ensure_connected() {
  // An idle connection that the server closed (a restart, an idle timeout)
  // has its goodbye and the end of stream waiting on the socket: read them
  // now (libpq never blocks here) rather than fail the caller's statement.
  for (int i = 0; i < 2 && !broken(); ++i) {
    if (PQconsumeInput(c_) == 0) break;
    (void)PQisBusy(c_);  // parses what arrived
  }
  if (!broken()) return ok_status();
  int64_t started = mono_ms();
  PQreset(c_);  // bounded by connect_timeout (options_for), per host of the url
  if (PQstatus(c_) != CONNECTION_OK) {
    if (stats_) stats_->failed(DbCallStats::Failure::kConnection, (mono_ms() - started) / 1000.0);
    return pg_error(c_, nullptr, "reconnect");
  }
  return after_connect();
}

Error Conn::drop(std::string_view what) {
  // The server may never hear of it (the path is silent): shut the socket
  // down so that nothing more is read from it, and reopen on the next use.
  dropped_ = true;
  timed_out_ = true;
  if (int fd = PQsocket(c_); fd >= 0) ::shutdown(fd, SHUT_RDWR);
  std::string head(what.substr(0, std::min<size_t>(what.size(), 60)));
  return Error::unavailable("PostgreSQL did not answer within " + describe_ms(limits_.timeout_ms) +
                            " (--db-timeout): " + head + "; the connection was dropped");
}

Status Conn::flush_and_read(int64_t deadline, std::string_view what) {
  // Flushes what libpq still holds, then reads until the answer is whole.
  bool sending = true;
  while (true) {
    if (sending) {
      int f = PQflush(c_);
      if (f < 0) return pg_error(c_, nullptr, what);
      sending = f == 1;
    }
    if (!sending && !PQisBusy(c_)) return ok_status();
    auto next = next_wait(mono_ms(), deadline);
    if (std::holds_alternative<DeadlinePassed>(next)) return drop(what);
    pollfd p{PQsocket(c_), static_cast<short>(POLLIN | (sending ? POLLOUT : 0)), 0};
    int rc = ::poll(&p, 1, std::get<WaitMs>(next).ms);
    if (rc < 0 && errno != EINTR) return pg_error(c_, nullptr, what);
    if (rc > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP)) && PQconsumeInput(c_) == 0)
      return pg_error(c_, nullptr, what);
  }
}

Result<PgResult> Conn::finish_query(std::string_view what) {
  // One deadline for the whole query, however many statements it holds.
  const int64_t deadline = call_deadline(mono_ms(), limits_);
  auto s = flush_and_read(deadline, what);
  if (!s.ok()) return s.error();
  std::optional<PgResult> kept;
  std::optional<Error> failed;
  while (PGresult* raw = PQgetResult(c_)) {
    PgResult r(raw);
    auto st = PQresultStatus(r.raw());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !failed) failed = error_of(r.raw(), what);
    kept = std::move(r);
    if (PQisBusy(c_)) {  // a multi-statement query: its next result is on its way
      if (auto more = flush_and_read(deadline, what); !more.ok()) return more.error();
    }
  }
  if (failed) return *failed;
  if (!kept) return pg_error(c_, nullptr, what);
  return std::move(*kept);
}

Result<PgResult> Conn::counted(Result<PgResult> r, int64_t started) {
  if (!stats_) return r;
  double seconds = (mono_ms() - started) / 1000.0;
  if (r.ok()) {
    stats_->ok(seconds, mono_ms());
  } else if (timed_out_ || r.error().message.find("statement timeout") != std::string::npos) {
    stats_->failed(DbCallStats::Failure::kTimeout, seconds);
  } else if (broken()) {
    stats_->failed(DbCallStats::Failure::kConnection, seconds);
  } else {
    stats_->failed(DbCallStats::Failure::kOther, seconds);
  }
  return r;
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
  // (Not after a deadline: its time is spent.)
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
  if (!r.ok() && resend && !timed_out_ && reopen_after_loss()) return exec_once(sql, params);
  return r;
}

Status Conn::exec_simple(const std::string& sql) {
  const bool resend = may_resend(sql, PQtransactionStatus(c_) == PQTRANS_IDLE);
  auto s = exec_simple_once(sql);
  if (!s.ok() && resend && !timed_out_ && reopen_after_loss()) return exec_simple_once(sql);
  return s;
}

Result<PgResult> Conn::exec_once(const char* sql, const Params& params) {
  timed_out_ = false;
  if (dropped_) return Error::unavailable("PostgreSQL: the connection was dropped after a deadline");
  int64_t started = mono_ms();
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "gh" + std::to_string(next_name_++);
    if (PQsendPrepare(c_, name.c_str(), sql, 0, nullptr) != 1) return counted(pg_error(c_, nullptr, sql), started);
    if (auto r = finish_query(sql); !r.ok()) return counted(r.error(), started);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  auto values = params.pointers();
  if (PQsendQueryPrepared(c_, it->second.c_str(), params.size(), values.data(), nullptr, nullptr, 0) != 1)
    return counted(pg_error(c_, nullptr, sql), started);
  return counted(finish_query(sql), started);
}

Status Conn::exec_simple_once(const std::string& sql) {
  timed_out_ = false;
  if (dropped_) return Error::unavailable("PostgreSQL: the connection was dropped after a deadline");
  int64_t started = mono_ms();
  if (PQsendQuery(c_, sql.c_str()) != 1) return counted(pg_error(c_, nullptr, sql), started).error();
  auto r = counted(finish_query(sql), started);
  if (!r.ok()) return r.error();
  return ok_status();
}

bool Conn::make_idle() {
  if (broken()) return false;
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
