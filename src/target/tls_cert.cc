// The certificate pelt-target makes for itself when --tls has no --tls-cert: self-signed, an
// end-entity certificate (CA:FALSE) so that strict verifiers accept it as a trusted leaf.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cstdint>

#include "target/tls.h"

namespace pelt::target {
namespace {

constexpr long kBackdateSeconds = 3600;         // valid from an hour ago (clock skew)
constexpr long kLifetimeSeconds = 30L * 86400;  // valid for 30 days

bool add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool fill(X509* cert, EVP_PKEY* key) {
  if (X509_set_version(cert, X509_VERSION_3) != 1) return false;
  unsigned char serial_bytes[8];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) return false;
  serial_bytes[0] &= 0x7f;  // a positive serial number
  BIGNUM* serial = BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr);
  bool ok = serial != nullptr && BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert));
  BN_free(serial);
  if (!ok) return false;
  if (X509_gmtime_adj(X509_getm_notBefore(cert), -kBackdateSeconds) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert), kLifetimeSeconds) == nullptr) {
    return false;
  }
  X509_NAME* name = X509_get_subject_name(cert);
  const auto* org = reinterpret_cast<const unsigned char*>("pelt-target");
  const auto* cn = reinterpret_cast<const unsigned char*>("localhost");
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, org, -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert, name) != 1 || X509_set_pubkey(cert, key) != 1) {
    return false;
  }
  return add_extension(cert, NID_basic_constraints, "critical,CA:FALSE") &&
         add_extension(cert, NID_key_usage, "critical,digitalSignature") &&
         add_extension(cert, NID_ext_key_usage, "serverAuth") &&
         add_extension(cert, NID_subject_key_identifier, "hash") &&
         add_extension(cert, NID_authority_key_identifier, "keyid:always") &&
         add_extension(cert, NID_subject_alt_name, "IP:127.0.0.1,IP:::1,DNS:localhost") &&
         X509_sign(cert, key, EVP_sha256()) > 0;
}

}  // namespace

bool make_self_signed(EVP_PKEY*& key, X509*& cert, std::string& error) {
  key = EVP_EC_gen("P-256");
  cert = X509_new();
  if (key == nullptr || cert == nullptr || !fill(cert, key)) {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    char buf[256] = "unknown error";
    if (code != 0) ERR_error_string_n(code, buf, sizeof(buf));
    error = std::string("cannot make a self-signed certificate: ") + buf;
    X509_free(cert);
    EVP_PKEY_free(key);
    key = nullptr;
    cert = nullptr;
    return false;
  }
  return true;
}

}  // namespace pelt::target
