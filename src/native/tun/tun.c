// nanovpn tun addon: open a Linux/Nanos tun device, configure it by ioctl, and read packets without blocking
// the event loop. Only node_api.h, the libuv header that ships with Node, and libc.
//
// JS API (see src/io/tun.ts):
//   open(name: string, node?: string) -> { fd, name }        opens node (default /dev/net/tun), IFF_TUN|IFF_NO_PI,
//                                                              O_NONBLOCK; the real name
//   devNode: true                                              open takes the node (older builds lack it)
//   configure(name, address, netmask, mtu) -> undefined      SIOCSIFADDR/NETMASK/MTU, then IFF_UP
//   startReader(fd, onPackets(Buffer[]), onError(Error)) -> Reader  uv_poll_t: read until EAGAIN on readable;
//                                                              after onError the reader has stopped itself
//   Reader.stop() -> undefined                                 stops polling (idempotent); does not close the fd
//   write(fd, buf) -> number                                   bytes written, 0 when the queue is full (EAGAIN)
//   close(fd) -> undefined
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PACKET 65536
// Packets handed to JS per callback; the rest waits for the next poll round so one busy tun cannot starve
// the sockets.
#define MAX_BATCH 64

#define CHECK(env, call)                                                                                  \
  do {                                                                                                    \
    if ((call) != napi_ok) {                                                                              \
      napi_throw_error((env), "ERR_TUN_NAPI", "tun addon: N-API call failed: " #call);                    \
      return NULL;                                                                                        \
    }                                                                                                     \
  } while (0)

static napi_value make_errno_error(napi_env env, int err, const char *what) {
  char msg[256];
  const char *name = strerrorname_np(err);
  if (!name) name = "EUNKNOWN";
  snprintf(msg, sizeof msg, "%s: %s (%s)", what, strerror(err), name);
  napi_value code, text, error, errno_value;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_create_int32(env, err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  return error;
}

static napi_value throw_errno(napi_env env, int err, const char *what) {
  napi_throw(env, make_errno_error(env, err, what));
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, "ERR_TUN_ARGS", "tun addon: missing arguments");
    return 0;
  }
  return 1;
}

static int get_string(napi_env env, napi_value v, char *out, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, out, size, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_TUN_ARGS", "tun addon: expected a string");
    return 0;
  }
  if (len >= size - 1) {
    napi_throw_range_error(env, "ERR_TUN_ARGS", "tun addon: string too long");
    return 0;
  }
  return 1;
}

static int get_int(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, "ERR_TUN_ARGS", "tun addon: expected a number");
    return 0;
  }
  return 1;
}

// Nanos keeps only the first two characters of the requested name and writes back "tu" + digit without a NUL,
// so the name returned by TUNSETIFF can carry leftovers of the request ("tun0" -> "tu20"). TUNGETIFF into a
// zeroed ifreq gives the real name on both Nanos and Linux; never read more than IFNAMSIZ bytes.
static void real_name(int fd, const struct ifreq *set, char out[IFNAMSIZ + 1]) {
  struct ifreq get;
  memset(&get, 0, sizeof get);
  const char *src = set->ifr_name;
  if (ioctl(fd, TUNGETIFF, &get) == 0) src = get.ifr_name;
  size_t n = strnlen(src, IFNAMSIZ);
  memcpy(out, src, n);
  out[n] = '\0';
}

static napi_value tun_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, "ERR_TUN_ARGS", "tun addon: missing arguments");
    return NULL;
  }
  char name[IFNAMSIZ + 1];
  if (!get_string(env, argv[0], name, sizeof name)) return NULL;
  char node[4096] = "/dev/net/tun";
  napi_valuetype type = napi_undefined;
  if (argc > 1 && napi_typeof(env, argv[1], &type) == napi_ok && type != napi_undefined) {
    if (!get_string(env, argv[1], node, sizeof node)) return NULL;
  }

  int fd = open(node, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    char what[4200];
    snprintf(what, sizeof what, "open %s", node);
    return throw_errno(env, err, what);
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "TUNSETIFF");
  }
  // Some kernels ignore O_NONBLOCK from open() for character devices with their own flags; make sure.
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0 && !(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl | O_NONBLOCK);

  char got[IFNAMSIZ + 1];
  real_name(fd, &ifr, got);
  napi_value result, fd_value, name_value;
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_create_int32(env, fd, &fd_value));
  CHECK(env, napi_create_string_utf8(env, got, NAPI_AUTO_LENGTH, &name_value));
  CHECK(env, napi_set_named_property(env, result, "fd", fd_value));
  CHECK(env, napi_set_named_property(env, result, "name", name_value));
  return result;
}

static int set_inet(int sock, unsigned long req, const char *ifname, const char *addr, const char **what) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, ifname, strnlen(ifname, IFNAMSIZ - 1));
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  sin->sin_family = AF_INET;
  if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) {
    *what = "invalid IPv4 address";
    errno = EINVAL;
    return -1;
  }
  return ioctl(sock, req, &ifr);
}

static napi_value tun_configure(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  char name[IFNAMSIZ + 1], address[64], netmask[64];
  int32_t mtu;
  if (!get_string(env, argv[0], name, sizeof name) || !get_string(env, argv[1], address, sizeof address) ||
      !get_string(env, argv[2], netmask, sizeof netmask) || !get_int(env, argv[3], &mtu))
    return NULL;

  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return throw_errno(env, errno, "socket(AF_INET)");
  const char *what = "SIOCSIFADDR";
  if (set_inet(sock, SIOCSIFADDR, name, address, &what) < 0) goto fail;
  what = "SIOCSIFNETMASK";
  if (set_inet(sock, SIOCSIFNETMASK, name, netmask, &what) < 0) goto fail;

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  ifr.ifr_mtu = mtu;
  what = "SIOCSIFMTU";
  if (ioctl(sock, SIOCSIFMTU, &ifr) < 0) goto fail;

  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  what = "SIOCGIFFLAGS";
  // Nanos may not implement SIOCGIFFLAGS; start from zero flags then.
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) ifr.ifr_flags = 0;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  what = "SIOCSIFFLAGS";
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) goto fail;
  close(sock);
  return NULL;

fail: {
  int err = errno;
  close(sock);
  return throw_errno(env, err, what);
}
}

// ---- reader: a uv_poll_t on the tun fd; each readable event drains up to MAX_BATCH packets into Buffers ----

typedef struct reader {
  uv_poll_t poll;
  napi_env env;
  napi_ref on_packets;
  napi_ref on_error;
  napi_async_context async;
  int fd;
  int active;   // polling, callbacks referenced
  int closed;   // the uv handle is closed
  int wrapped;  // the JS Reader object still points here
  unsigned char buf[MAX_PACKET];
} reader_t;

// The struct lives until both the uv handle is closed and the JS Reader object is gone.
static void reader_closed(uv_handle_t *h) {
  reader_t *r = (reader_t *)h->data;
  r->closed = 1;
  if (!r->wrapped) free(r);
}

static void reader_finalize(napi_env env, void *data, void *hint) {
  reader_t *r = (reader_t *)data;
  r->wrapped = 0;
  if (r->closed) free(r);
}

static void reader_env_teardown(void *arg);

static void reader_release(reader_t *r) {
  if (!r->active) return;
  r->active = 0;
  napi_remove_env_cleanup_hook(r->env, reader_env_teardown, r);
  uv_poll_stop(&r->poll);
  napi_delete_reference(r->env, r->on_packets);
  napi_delete_reference(r->env, r->on_error);
  napi_async_destroy(r->env, r->async);
  uv_close((uv_handle_t *)&r->poll, reader_closed);
}

static void reader_env_teardown(void *arg) { reader_release((reader_t *)arg); }

static void call_js(reader_t *r, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_env env = r->env;
  napi_value fn, recv, result;
  if (napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(env, &recv);  // napi_make_callback wants an object receiver
  napi_make_callback(env, r->async, recv, fn, argc, argv, &result);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    // A throwing JS callback becomes an uncaught exception, as it would from any other event source.
    napi_value ex;
    napi_get_and_clear_last_exception(env, &ex);
    napi_fatal_exception(env, ex);
  }
}

static void on_readable(uv_poll_t *h, int status, int events) {
  reader_t *r = (reader_t *)h->data;
  if (!r->active) return;
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  if (status < 0) {
    napi_value err = make_errno_error(env, -status, "poll tun");
    call_js(r, r->on_error, 1, &err);
    reader_release(r);  // a poll error repeats forever: stop instead of spinning
    goto out;
  }
  (void)events;
  napi_value list;
  if (napi_create_array(env, &list) != napi_ok) goto out;
  uint32_t count = 0;
  int read_error = 0;
  while (count < MAX_BATCH) {
    ssize_t n = read(r->fd, r->buf, sizeof r->buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) read_error = errno;
      break;
    }
    if (n == 0) break;
    napi_value b;
    if (napi_create_buffer_copy(env, (size_t)n, r->buf, NULL, &b) != napi_ok) break;
    napi_set_element(env, list, count++, b);
  }
  if (count > 0) call_js(r, r->on_packets, 1, &list);
  if (read_error && r->active) {
    // A read error other than EAGAIN does not go away by itself; report it and stop polling rather than spin.
    napi_value err = make_errno_error(env, read_error, "read tun");
    call_js(r, r->on_error, 1, &err);
    reader_release(r);
  }
out:
  napi_close_handle_scope(env, scope);
}

static napi_value reader_stop(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data = NULL;
  size_t argc = 0;
  CHECK(env, napi_get_cb_info(env, info, &argc, NULL, &self, NULL));
  if (napi_unwrap(env, self, &data) != napi_ok) return NULL;
  reader_t *r = (reader_t *)data;
  if (r) reader_release(r);
  return NULL;
}

static napi_value tun_start_reader(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int32_t fd;
  if (!get_int(env, argv[0], &fd)) return NULL;
  napi_valuetype t1, t2;
  napi_typeof(env, argv[1], &t1);
  napi_typeof(env, argv[2], &t2);
  if (t1 != napi_function || t2 != napi_function) {
    napi_throw_type_error(env, "ERR_TUN_ARGS", "tun addon: startReader(fd, onPackets, onError)");
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));

  reader_t *r = calloc(1, sizeof *r);
  if (!r) return throw_errno(env, ENOMEM, "startReader");
  r->env = env;
  r->fd = fd;
  int rc = uv_poll_init(loop, &r->poll, fd);
  if (rc < 0) {
    free(r);
    return throw_errno(env, -rc, "uv_poll_init");
  }
  r->poll.data = r;
  napi_value self, stop, resource_name;
  CHECK(env, napi_create_object(env, &self));
  CHECK(env, napi_create_function(env, "stop", NAPI_AUTO_LENGTH, reader_stop, NULL, &stop));
  CHECK(env, napi_set_named_property(env, self, "stop", stop));
  CHECK(env, napi_create_string_utf8(env, "nanovpn:tun", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(env, napi_async_init(env, self, resource_name, &r->async));
  CHECK(env, napi_create_reference(env, argv[1], 1, &r->on_packets));
  CHECK(env, napi_create_reference(env, argv[2], 1, &r->on_error));
  CHECK(env, napi_wrap(env, self, r, reader_finalize, NULL, NULL));
  r->wrapped = 1;
  r->active = 1;
  CHECK(env, napi_add_env_cleanup_hook(env, reader_env_teardown, r));
  rc = uv_poll_start(&r->poll, UV_READABLE, on_readable);
  if (rc < 0) {
    reader_release(r);
    return throw_errno(env, -rc, "uv_poll_start");
  }
  return self;
}

static napi_value tun_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int32_t fd;
  if (!get_int(env, argv[0], &fd)) return NULL;
  void *data;
  size_t len;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_TUN_ARGS", "tun addon: write(fd, Buffer)");
    return NULL;
  }
  ssize_t n;
  do n = write(fd, data, len);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return throw_errno(env, errno, "write tun");
  napi_value out;
  CHECK(env, napi_create_int32(env, n < 0 ? 0 : (int32_t)n, &out));
  return out;
}

static napi_value tun_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t fd;
  if (!get_int(env, argv[0], &fd)) return NULL;
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, errno, "close tun");
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, tun_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"configure", NULL, tun_configure, NULL, NULL, NULL, napi_enumerable, NULL},
      {"startReader", NULL, tun_start_reader, NULL, NULL, NULL, napi_enumerable, NULL},
      {"write", NULL, tun_write, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, tun_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  napi_value yes;
  CHECK(env, napi_get_boolean(env, true, &yes));
  CHECK(env, napi_set_named_property(env, exports, "devNode", yes));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
