// Throwaway certificates for tests and benchmarks over TLS on loopback,
// made with the OpenSSL API (EC P-256, SHA-256): a CA, and server
// certificates it signs (or that sign themselves), for the names and
// addresses a test asks for, valid when it says. Nothing here is secret:
// the keys live as long as the test.
#pragma once

#include <string>
#include <vector>

namespace test_certs {

struct Pem {
  std::string cert;  // "-----BEGIN CERTIFICATE-----..."
  std::string key;   // "-----BEGIN PRIVATE KEY-----..."
};

// A self-signed CA certificate (basicConstraints CA:TRUE), valid from an
// hour ago for a year.
Pem make_ca(const std::string& common_name);

struct ServerSpec {
  std::string common_name = "growhook test receiver";
  std::vector<std::string> dns_names = {"localhost"};
  std::vector<std::string> ip_addresses = {"127.0.0.1"};
  long not_before_s = -3600;  // validity, in seconds from now
  long not_after_s = 86400;
};

// A server certificate (CA:FALSE, serverAuth) for spec's names, signed by
// issuer, or by its own key when issuer is null (self-signed).
Pem make_server(const ServerSpec& spec, const Pem* issuer);

// Writes text to path (replacing it); throws on failure.
void write_file(const std::string& path, const std::string& text);

}  // namespace test_certs
