#include "store/secret_keys.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace growhook {
namespace {

Result<std::shared_ptr<const SecretBox>> from(const std::string& keys, const std::string& source) {
  auto box = SecretBox::from_keys(keys, source);
  if (!box.ok()) return box.error();
  return std::make_shared<const SecretBox>(std::move(*box));
}

}  // namespace

Result<std::shared_ptr<const SecretBox>> sqlite_secret_keys(const std::string& keys, const std::string& data_dir,
                                                            bool create) {
  if (!keys.empty()) return from(keys, "GROWHOOK_SECRETS_KEYS");
  const std::string path = data_dir + "/" + kSecretsKeyFile;
  if (create) {
    // O_EXCL: of two processes racing on a new folder, one writes the key.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      const std::string line = SecretBox::generate_key() + "\n";
      bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
      ::close(fd);
      if (!written) {
        ::unlink(path.c_str());
        return Error::unavailable("cannot write the key file " + path + ": " + std::strerror(errno));
      }
    } else if (errno != EEXIST) {
      return Error::unavailable("cannot create the key file " + path + ": " + std::strerror(errno));
    }
  }
  std::ifstream in(path);
  if (!in) {
    return Error::not_found("no key file " + path + " and GROWHOOK_SECRETS_KEYS is not set: give the keys the "
                            "store's secrets were sealed with");
  }
  std::stringstream text;
  text << in.rdbuf();
  return from(text.str(), path);
}

Result<std::shared_ptr<const SecretBox>> postgres_secret_keys(const std::string& keys) {
  if (keys.empty()) {
    return Error::invalid("a PostgreSQL store needs GROWHOOK_SECRETS_KEYS, the same on every node (base64 keys "
                          "of 32 bytes, comma-separated; make one with `openssl rand -base64 32`)");
  }
  return from(keys, "GROWHOOK_SECRETS_KEYS");
}

}  // namespace growhook
