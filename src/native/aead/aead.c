// Data-channel AEAD with one OpenSSL EVP context per key, kept for the key's lifetime: each packet only sets the
// nonce. node:crypto has to build a new cipher object (and key schedule) per packet; this does not. The OpenSSL
// symbols are resolved from the Node binary that loads the addon, so it uses the same OpenSSL as node:crypto.
//
//   create(alg, key, encrypt) -> handle         alg: "aes-128-gcm" | "aes-256-gcm" | "chacha20-poly1305"
//   seal(handle, nonce, aad, plain, ctOut, ctOffset, tagOut, tagOffset)
//                                   ciphertext to ctOut[ctOffset..], the 16-byte tag to tagOut[tagOffset..]
//   open(handle, nonce, aad, ct, tag, out) -> boolean           plaintext to out[0..ct.length) when the tag verifies
//
// Nonces are 12 bytes and tags 16; buffers may not overlap except out == plain/ct (in place).
//
// The non-AEAD primitives beside them (tls-crypt's AES-256-CTR and HMAC-SHA256, tls-auth's HMAC, the CBC data
// channel's AES-CBC with PKCS#7 padding and its `auth` HMAC), each a context
// kept per key in the same way:
//   cipherCreate(alg, key, encrypt) -> handle    alg: an OpenSSL name of a non-AEAD cipher ("aes-256-ctr", ...)
//   cipherRun(handle, iv, input, out, outOffset) -> bytes written to out[outOffset..], or -1 (bad padding)
//   macCreate(digest, key) -> handle             digest: an OpenSSL name ("SHA256", "SHA1", ...)
//   mac(handle, a, b, c, out, outOffset) -> size HMAC over a, b and c, to out[outOffset..]
#define NAPI_VERSION 8
#include <node_api.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

#define NONCE_LEN 12
#define TAG_LEN 16

typedef struct {
  EVP_CIPHER_CTX *ctx;
  int encrypt;
} aead_t;

// Marks our handles, so an external from elsewhere is refused instead of being read as an aead_t.
static const napi_type_tag AEAD_TAG = {0x6e616e6f76706e00ULL, 0x616561645f637478ULL};

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, "ERR_NANOVPN_AEAD", msg);
  return NULL;
}

static int buffer_arg(napi_env env, napi_value v, unsigned char **data, size_t *len) {
  bool is_buffer = false;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer) return 0;
  void *p = NULL;
  if (napi_get_buffer_info(env, v, &p, len) != napi_ok) return 0;
  *data = p;
  return 1;
}

static void finalize(napi_env env, void *data, void *hint) {
  aead_t *a = data;
  EVP_CIPHER_CTX_free(a->ctx);  // also clears the key schedule
  free(a);
}

static const EVP_CIPHER *cipher_by_name(const char *name, size_t key_len) {
  if (strcmp(name, "aes-128-gcm") == 0 && key_len == 16) return EVP_aes_128_gcm();
  if (strcmp(name, "aes-256-gcm") == 0 && key_len == 32) return EVP_aes_256_gcm();
  if (strcmp(name, "chacha20-poly1305") == 0 && key_len == 32) return EVP_chacha20_poly1305();
  return NULL;
}

static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_error(env, "create(alg, key, encrypt)");
  char name[32];
  size_t name_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &name_len) != napi_ok)
    return throw_error(env, "alg must be a string");
  unsigned char *key;
  size_t key_len;
  if (!buffer_arg(env, argv[1], &key, &key_len)) return throw_error(env, "key must be a Buffer");
  bool encrypt = false;
  if (napi_get_value_bool(env, argv[2], &encrypt) != napi_ok) return throw_error(env, "encrypt must be a boolean");
  const EVP_CIPHER *cipher = cipher_by_name(name, key_len);
  if (!cipher) return throw_error(env, "unknown cipher or wrong key length");

  aead_t *a = calloc(1, sizeof *a);
  if (!a) return throw_error(env, "out of memory");
  a->encrypt = encrypt ? 1 : 0;
  a->ctx = EVP_CIPHER_CTX_new();
  if (!a->ctx || EVP_CipherInit_ex(a->ctx, cipher, NULL, NULL, NULL, a->encrypt) != 1 ||
      EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
      EVP_CipherInit_ex(a->ctx, NULL, NULL, key, NULL, a->encrypt) != 1) {
    EVP_CIPHER_CTX_free(a->ctx);
    free(a);
    return throw_error(env, "EVP cipher setup failed");
  }
  napi_value handle;
  if (napi_create_external(env, a, finalize, NULL, &handle) != napi_ok) {
    finalize(env, a, NULL);
    return throw_error(env, "napi_create_external failed");
  }
  if (napi_type_tag_object(env, handle, &AEAD_TAG) != napi_ok) return throw_error(env, "napi_type_tag_object failed");
  return handle;
}

static aead_t *handle_arg(napi_env env, napi_value v, int encrypt) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  bool ours = false;
  if (napi_check_object_type_tag(env, v, &AEAD_TAG, &ours) != napi_ok || !ours) return NULL;
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  aead_t *a = p;
  return a->encrypt == encrypt ? a : NULL;
}

static int u32_arg(napi_env env, napi_value v, size_t *out) {
  uint32_t x;
  if (napi_get_value_uint32(env, v, &x) != napi_ok) return 0;
  *out = x;
  return 1;
}

// AAD and data lengths are bounded by the Buffer sizes checked here; EVP takes int lengths.
#define MAX_LEN 0x7fffffff

static napi_value seal(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 8) return throw_error(env, "seal(handle, nonce, aad, plain, ctOut, ctOffset, tagOut, tagOffset)");
  aead_t *a = handle_arg(env, argv[0], 1);
  if (!a) return throw_error(env, "not an encrypting AEAD handle");
  unsigned char *nonce, *aad, *plain, *ct_out, *tag_out;
  size_t nonce_len, aad_len, plain_len, ct_len, tag_len, ct_off, tag_off;
  if (!buffer_arg(env, argv[1], &nonce, &nonce_len) || nonce_len != NONCE_LEN) return throw_error(env, "nonce must be 12 bytes");
  if (!buffer_arg(env, argv[2], &aad, &aad_len) || aad_len > MAX_LEN) return throw_error(env, "bad aad");
  if (!buffer_arg(env, argv[3], &plain, &plain_len) || plain_len > MAX_LEN) return throw_error(env, "bad plaintext");
  if (!buffer_arg(env, argv[4], &ct_out, &ct_len) || !u32_arg(env, argv[5], &ct_off) ||
      ct_off > ct_len || ct_len - ct_off < plain_len)
    return throw_error(env, "ciphertext output is too small");
  if (!buffer_arg(env, argv[6], &tag_out, &tag_len) || !u32_arg(env, argv[7], &tag_off) ||
      tag_off > tag_len || tag_len - tag_off < TAG_LEN)
    return throw_error(env, "tag output is too small");
  int n = 0, m = 0;
  if (EVP_CipherInit_ex(a->ctx, NULL, NULL, NULL, nonce, 1) != 1 ||
      (aad_len > 0 && EVP_CipherUpdate(a->ctx, NULL, &n, aad, (int)aad_len) != 1) ||
      EVP_CipherUpdate(a->ctx, ct_out + ct_off, &n, plain, (int)plain_len) != 1 ||
      EVP_CipherFinal_ex(a->ctx, ct_out + ct_off + n, &m) != 1 ||
      EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, tag_out + tag_off) != 1)
    return throw_error(env, "EVP encrypt failed");
  return NULL;
}

static napi_value open_(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) return throw_error(env, "open(handle, nonce, aad, ct, tag, out)");
  aead_t *a = handle_arg(env, argv[0], 0);
  if (!a) return throw_error(env, "not a decrypting AEAD handle");
  unsigned char *nonce, *aad, *ct, *tag, *out;
  size_t nonce_len, aad_len, ct_len, tag_len, out_len;
  if (!buffer_arg(env, argv[1], &nonce, &nonce_len) || nonce_len != NONCE_LEN) return throw_error(env, "nonce must be 12 bytes");
  if (!buffer_arg(env, argv[2], &aad, &aad_len) || aad_len > MAX_LEN) return throw_error(env, "bad aad");
  if (!buffer_arg(env, argv[3], &ct, &ct_len) || ct_len > MAX_LEN) return throw_error(env, "bad ciphertext");
  if (!buffer_arg(env, argv[4], &tag, &tag_len) || tag_len != TAG_LEN) return throw_error(env, "tag must be 16 bytes");
  if (!buffer_arg(env, argv[5], &out, &out_len) || out_len < ct_len) return throw_error(env, "out is too small");
  unsigned char tag_copy[TAG_LEN];
  memcpy(tag_copy, tag, TAG_LEN);  // SET_TAG wants a writable pointer
  int n = 0, m = 0, ok;
  ok = EVP_CipherInit_ex(a->ctx, NULL, NULL, NULL, nonce, 0) == 1 &&
       (aad_len == 0 || EVP_CipherUpdate(a->ctx, NULL, &n, aad, (int)aad_len) == 1) &&
       EVP_CipherUpdate(a->ctx, out, &n, ct, (int)ct_len) == 1 &&
       EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag_copy) == 1 &&
       EVP_CipherFinal_ex(a->ctx, out + n, &m) == 1;
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

// ---- non-AEAD ciphers and HMAC ----

typedef struct {
  EVP_CIPHER_CTX *ctx;
  int iv_len;
} cipher_t;

typedef struct {
  EVP_MAC_CTX *ctx;
  size_t size;
} mac_t;

static const napi_type_tag CIPHER_TAG = {0x6e616e6f76706e01ULL, 0x6369706865725f78ULL};
static const napi_type_tag MAC_TAG = {0x6e616e6f76706e02ULL, 0x6d61635f63747800ULL};

static void cipher_finalize(napi_env env, void *data, void *hint) {
  cipher_t *c = data;
  EVP_CIPHER_CTX_free(c->ctx);
  free(c);
}

static void mac_finalize(napi_env env, void *data, void *hint) {
  mac_t *m = data;
  EVP_MAC_CTX_free(m->ctx);
  free(m);
}

static void *tagged_arg(napi_env env, napi_value v, const napi_type_tag *tag) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  bool ours = false;
  if (napi_check_object_type_tag(env, v, tag, &ours) != napi_ok || !ours) return NULL;
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

static napi_value wrap_handle(napi_env env, void *p, napi_finalize fin, const napi_type_tag *tag) {
  napi_value handle;
  if (napi_create_external(env, p, fin, NULL, &handle) != napi_ok) {
    fin(env, p, NULL);
    return throw_error(env, "napi_create_external failed");
  }
  if (napi_type_tag_object(env, handle, tag) != napi_ok) return throw_error(env, "napi_type_tag_object failed");
  return handle;
}

static napi_value cipher_create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_error(env, "cipherCreate(alg, key, encrypt)");
  char name[32];
  size_t name_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &name_len) != napi_ok)
    return throw_error(env, "alg must be a string");
  unsigned char *key;
  size_t key_len;
  if (!buffer_arg(env, argv[1], &key, &key_len)) return throw_error(env, "key must be a Buffer");
  bool encrypt = false;
  if (napi_get_value_bool(env, argv[2], &encrypt) != napi_ok) return throw_error(env, "encrypt must be a boolean");
  const EVP_CIPHER *cipher = EVP_get_cipherbyname(name);
  if (!cipher || (EVP_CIPHER_get_flags(cipher) & EVP_CIPH_FLAG_AEAD_CIPHER))
    return throw_error(env, "unknown or AEAD cipher");
  if ((size_t)EVP_CIPHER_get_key_length(cipher) != key_len) return throw_error(env, "wrong key length");
  cipher_t *c = calloc(1, sizeof *c);
  if (!c) return throw_error(env, "out of memory");
  c->iv_len = EVP_CIPHER_get_iv_length(cipher);
  c->ctx = EVP_CIPHER_CTX_new();
  if (!c->ctx || EVP_CipherInit_ex(c->ctx, cipher, NULL, key, NULL, encrypt ? 1 : 0) != 1) {
    cipher_finalize(env, c, NULL);
    return throw_error(env, "EVP cipher setup failed");
  }
  return wrap_handle(env, c, cipher_finalize, &CIPHER_TAG);
}

static napi_value cipher_run(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) return throw_error(env, "cipherRun(handle, iv, input, out, outOffset)");
  cipher_t *c = tagged_arg(env, argv[0], &CIPHER_TAG);
  if (!c) return throw_error(env, "not a cipher handle");
  unsigned char *iv, *in, *out;
  size_t iv_len, in_len, out_len, out_off;
  if (!buffer_arg(env, argv[1], &iv, &iv_len) || (int)iv_len != c->iv_len) return throw_error(env, "wrong iv length");
  if (!buffer_arg(env, argv[2], &in, &in_len) || in_len > MAX_LEN - 64) return throw_error(env, "bad input");
  if (!buffer_arg(env, argv[3], &out, &out_len) || !u32_arg(env, argv[4], &out_off) || out_off > out_len)
    return throw_error(env, "bad output");
  // Room for one more block than the input (CBC padding); stream modes write exactly in_len.
  int block = EVP_CIPHER_CTX_get_block_size(c->ctx);
  if (out_len - out_off < in_len + (block > 1 ? (size_t)block : 0)) return throw_error(env, "output is too small");
  int n = 0, m = 0;
  int ok = EVP_CipherInit_ex(c->ctx, NULL, NULL, NULL, iv, -1) == 1 &&
           EVP_CipherUpdate(c->ctx, out + out_off, &n, in, (int)in_len) == 1 &&
           EVP_CipherFinal_ex(c->ctx, out + out_off + n, &m) == 1;
  napi_value result;
  napi_create_int32(env, ok ? n + m : -1, &result);
  return result;
}

static napi_value mac_create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) return throw_error(env, "macCreate(digest, key)");
  char name[32];
  size_t name_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &name_len) != napi_ok)
    return throw_error(env, "digest must be a string");
  unsigned char *key;
  size_t key_len;
  if (!buffer_arg(env, argv[1], &key, &key_len)) return throw_error(env, "key must be a Buffer");
  const EVP_MD *md = EVP_get_digestbyname(name);
  if (!md) return throw_error(env, "unknown digest");
  EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  if (!hmac) return throw_error(env, "HMAC is not available");
  mac_t *m = calloc(1, sizeof *m);
  if (!m) { EVP_MAC_free(hmac); return throw_error(env, "out of memory"); }
  m->ctx = EVP_MAC_CTX_new(hmac);
  EVP_MAC_free(hmac);  // the context holds its own reference
  OSSL_PARAM params[2] = {
    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name, 0),
    OSSL_PARAM_construct_end(),
  };
  if (!m->ctx || EVP_MAC_init(m->ctx, key, key_len, params) != 1) {
    mac_finalize(env, m, NULL);
    return throw_error(env, "HMAC setup failed");
  }
  m->size = EVP_MAC_CTX_get_mac_size(m->ctx);
  return wrap_handle(env, m, mac_finalize, &MAC_TAG);
}

static napi_value mac_(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) return throw_error(env, "mac(handle, a, b, c, out, outOffset)");
  mac_t *m = tagged_arg(env, argv[0], &MAC_TAG);
  if (!m) return throw_error(env, "not a mac handle");
  unsigned char *a, *b, *c, *out;
  size_t a_len, b_len, c_len, out_len, out_off;
  if (!buffer_arg(env, argv[1], &a, &a_len) || !buffer_arg(env, argv[2], &b, &b_len) || !buffer_arg(env, argv[3], &c, &c_len))
    return throw_error(env, "bad input");
  if (!buffer_arg(env, argv[4], &out, &out_len) || !u32_arg(env, argv[5], &out_off) || out_off > out_len ||
      out_len - out_off < m->size)
    return throw_error(env, "output is too small");
  size_t n = 0;
  // A NULL key re-initialises with the key set at creation (OpenSSL 3).
  if (EVP_MAC_init(m->ctx, NULL, 0, NULL) != 1 || EVP_MAC_update(m->ctx, a, a_len) != 1 ||
      EVP_MAC_update(m->ctx, b, b_len) != 1 || EVP_MAC_update(m->ctx, c, c_len) != 1 || EVP_MAC_final(m->ctx, out + out_off, &n, m->size) != 1)
    return throw_error(env, "HMAC failed");
  napi_value result;
  napi_create_uint32(env, (uint32_t)n, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
    {"seal", NULL, seal, NULL, NULL, NULL, napi_default, NULL},
    {"open", NULL, open_, NULL, NULL, NULL, napi_default, NULL},
    {"cipherCreate", NULL, cipher_create, NULL, NULL, NULL, napi_default, NULL},
    {"cipherRun", NULL, cipher_run, NULL, NULL, NULL, napi_default, NULL},
    {"macCreate", NULL, mac_create, NULL, NULL, NULL, napi_default, NULL},
    {"mac", NULL, mac_, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
