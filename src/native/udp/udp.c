// nanovpn udp addon: the server's UDP socket (IPv4, or IPv6 and then dual-stack unless v6only), read with recvmmsg into one ring the JS side owns and written
// with sendmmsg. Node's dgram reads one datagram per syscall into a fresh 64 KiB buffer and builds an rinfo object
// for each; under a flood that caps the rate far below what the kernel delivers, the socket's queue overflows and a
// legitimate client's handshake is lost with the flood. Only node_api.h, the libuv header that ships with Node, libc.
//
// JS API (see src/io/udp-port.ts):
//   open(host, port, bufBytes, v6only) -> { fd, port, family }
//       host: an IPv4 or IPv6 literal; non-blocking, SO_RCVBUF/SO_SNDBUF, IPV6_V6ONLY set to v6only on an IPv6
//       socket, bound; port: the bound one; family: 4 or 6
//   Addresses cross as 4 u32 (host order) that hold the 16 bytes of an IPv6 address, an IPv4 address as IPv4-mapped
//   (0, 0, 0xffff, the IPv4 address): a peer of a dual-stack socket and one of an IPv4 socket look the same.
//   startPoll(fd, ring, meta, slotBytes, onBatch(count), onWritable(), onError(Error)) -> Poller
//       ring: a Buffer of slots of slotBytes; meta: a Buffer of 8 u32 (host order) per slot: length, port, flags
//       (1: truncated), 0, then the address. Each readable event fills up to every slot with recvmmsg and calls onBatch with
//       the count, up to MAX_ROUNDS times; the slots are reused after onBatch returns.
//   Poller.wantWritable() -> undefined    onWritable is called once, when the socket can take more
//   Poller.stop() -> undefined            stops polling (idempotent); does not close the fd
//   sendBatch(fd, bufs, parts, addrs, ports, count, stats, family) -> number
//       datagram i is the next parts[i] Buffers of bufs, to addrs[4i..4i+3]:ports[i] (Uint32Arrays); family: the
//       socket's, as open returned it. Returns how many
//       datagrams were dealt with from the front: fewer than count when the socket is full (EAGAIN). A datagram the
//       kernel refuses for another reason (an IPv6 peer of an IPv4 socket too) is skipped: stats[0] counts them,
//       stats[1] holds the last errno.
//   close(fd) -> undefined
//   notify(socketPath, message) -> undefined    one sd_notify datagram (systemd's Type=notify readiness)
//   mallocTrim() -> boolean    glibc's malloc_trim(0): freed heap pages go back to the OS (true if any did); false
//       without glibc. Node has no binding for it, and glibc otherwise keeps what a burst of traffic freed resident.
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

// An address of either family, as the kernel writes it and as sendmmsg takes it.
typedef union {
  struct sockaddr sa;
  struct sockaddr_in in4;
  struct sockaddr_in6 in6;
} any_addr;

// The 4 words of an address (see the header) from a received sockaddr; false for another family.
static bool words_of(const any_addr *a, socklen_t len, uint32_t *w, uint32_t *port) {
  if (a->sa.sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
    w[0] = 0; w[1] = 0; w[2] = 0xffff; w[3] = ntohl(a->in4.sin_addr.s_addr);
    *port = ntohs(a->in4.sin_port);
    return true;
  }
  if (a->sa.sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
    for (int i = 0; i < 4; i++) {
      uint32_t v;
      memcpy(&v, &a->in6.sin6_addr.s6_addr[i * 4], 4);
      w[i] = ntohl(v);
    }
    *port = ntohs(a->in6.sin6_port);
    return true;
  }
  return false;
}

// A destination for a socket of `family` from 4 words; false when an IPv4 socket is asked for an IPv6 peer.
static bool addr_of(int family, const uint32_t *w, uint32_t port, any_addr *a, socklen_t *len) {
  memset(a, 0, sizeof *a);
  if (family == AF_INET) {
    if (w[0] != 0 || w[1] != 0 || w[2] != 0xffff) return false;
    a->in4.sin_family = AF_INET;
    a->in4.sin_port = htons((uint16_t)port);
    a->in4.sin_addr.s_addr = htonl(w[3]);
    *len = sizeof a->in4;
    return true;
  }
  a->in6.sin6_family = AF_INET6;
  a->in6.sin6_port = htons((uint16_t)port);
  for (int i = 0; i < 4; i++) {
    uint32_t v = htonl(w[i]);
    memcpy(&a->in6.sin6_addr.s6_addr[i * 4], &v, 4);
  }
  *len = sizeof a->in6;
  return true;
}

#define MAX_SLOTS 1024
#define MAX_ROUNDS 8
#define SEND_BATCH 64
#define MAX_IOV 256
#define META_WORDS 8

#define CHECK(env, call)                                                  \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      napi_throw_error((env), "ERR_NANOVPN_UDP", "udp addon: " #call);    \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

static napi_value make_errno_error(napi_env env, int err, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value m, e, code;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_int32(env, err, &code);
  napi_set_named_property(env, e, "errno", code);
  return e;
}

static napi_value throw_errno(napi_env env, int err, const char *what) {
  napi_throw(env, make_errno_error(env, err, what));
  return NULL;
}

static napi_value throw_args(napi_env env, const char *usage) {
  napi_throw_type_error(env, "ERR_NANOVPN_UDP_ARGS", usage);
  return NULL;
}

static bool get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) return false;
  return true;
}

static bool get_int(napi_env env, napi_value v, int32_t *out) { return napi_get_value_int32(env, v, out) == napi_ok; }

static bool get_buffer(napi_env env, napi_value v, void **data, size_t *len) {
  bool is = false;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) return false;
  return napi_get_buffer_info(env, v, data, len) == napi_ok;
}

static bool get_u32_array(napi_env env, napi_value v, uint32_t **data, size_t *len) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok || type != napi_uint32_array) return false;
  *data = p;
  return true;
}

// ---- open / close -----------------------------------------------------------------------------------------

static napi_value udp_open(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  const char *usage = "udp addon: open(host: string, port: number, bufBytes: number, v6only: boolean)";
  if (!get_args(env, info, 4, argv)) return throw_args(env, usage);
  char host[64];
  size_t hlen;
  int32_t port, buf_bytes;
  bool v6only;
  if (napi_get_value_string_utf8(env, argv[0], host, sizeof host, &hlen) != napi_ok || !get_int(env, argv[1], &port) ||
      !get_int(env, argv[2], &buf_bytes) || napi_get_value_bool(env, argv[3], &v6only) != napi_ok || port < 0 ||
      port > 65535)
    return throw_args(env, usage);
  any_addr sa;
  socklen_t salen;
  memset(&sa, 0, sizeof sa);
  if (inet_pton(AF_INET, host, &sa.in4.sin_addr) == 1) {
    sa.in4.sin_family = AF_INET;
    sa.in4.sin_port = htons((uint16_t)port);
    salen = sizeof sa.in4;
  } else if (inet_pton(AF_INET6, host, &sa.in6.sin6_addr) == 1) {
    sa.in6.sin6_family = AF_INET6;
    sa.in6.sin6_port = htons((uint16_t)port);
    salen = sizeof sa.in6;
  } else {
    return throw_args(env, "udp addon: open: host is not an IPv4 or IPv6 address");
  }

  int fd = socket(sa.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  if (buf_bytes > 0) {
    // Best effort, as dgram's recvBufferSize: the kernel caps it at net.core.rmem_max / wmem_max.
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf_bytes, sizeof buf_bytes);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf_bytes, sizeof buf_bytes);
  }
  if (sa.sa.sa_family == AF_INET6) {
    int on = v6only ? 1 : 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) < 0) {
      int err = errno;
      close(fd);
      return throw_errno(env, err, "setsockopt IPV6_V6ONLY");
    }
  }
  if (bind(fd, &sa.sa, salen) < 0) {
    int err = errno;
    close(fd);
    char what[96];
    snprintf(what, sizeof what, sa.sa.sa_family == AF_INET6 ? "bind [%s]:%d" : "bind %s:%d", host, port);
    return throw_errno(env, err, what);
  }
  any_addr bound;
  socklen_t blen = sizeof bound;
  if (getsockname(fd, &bound.sa, &blen) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "getsockname");
  }
  napi_value out, v;
  CHECK(env, napi_create_object(env, &out));
  CHECK(env, napi_create_int32(env, fd, &v));
  CHECK(env, napi_set_named_property(env, out, "fd", v));
  CHECK(env, napi_create_int32(env, ntohs(bound.sa.sa_family == AF_INET6 ? bound.in6.sin6_port : bound.in4.sin_port), &v));
  CHECK(env, napi_set_named_property(env, out, "port", v));
  CHECK(env, napi_create_int32(env, bound.sa.sa_family == AF_INET6 ? 6 : 4, &v));
  CHECK(env, napi_set_named_property(env, out, "family", v));
  return out;
}

static napi_value udp_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fd)) return throw_args(env, "udp addon: close(fd)");
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, errno, "close udp");
  return NULL;
}

// systemd's readiness protocol (sd_notify): one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET ("@…" is the
// abstract namespace). Here because Node has no unix datagram sockets and this addon is the one with sockets.
static napi_value udp_notify(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  const char *usage = "udp addon: notify(socketPath: string, message: string)";
  if (!get_args(env, info, 2, argv)) return throw_args(env, usage);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  size_t plen, mlen;
  char msg[1024];
  if (napi_get_value_string_utf8(env, argv[0], sa.sun_path, sizeof sa.sun_path, &plen) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], msg, sizeof msg, &mlen) != napi_ok || plen == 0 ||
      plen >= sizeof sa.sun_path - 1 || mlen >= sizeof msg - 1)
    return throw_args(env, usage);
  if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "notify socket");
  ssize_t n = sendto(fd, msg, mlen, MSG_NOSIGNAL, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen));
  int err = errno;
  close(fd);
  if (n < 0) return throw_errno(env, err, "notify sendto");
  return NULL;
}

static napi_value udp_malloc_trim(napi_env env, napi_callback_info info) {
#if defined(__GLIBC__)
  bool released = malloc_trim(0) != 0;
#else
  bool released = false;
#endif
  napi_value out;
  CHECK(env, napi_get_boolean(env, released, &out));
  return out;
}

// ---- the poller: a uv_poll_t on the fd; readable drains into the ring, writable calls back once --------------

typedef struct poller {
  uv_poll_t poll;
  napi_env env;
  napi_ref ring_ref, meta_ref, on_batch, on_writable, on_error;
  napi_async_context async;
  unsigned char *ring;
  uint32_t *meta;
  uint32_t slots, slot_bytes;
  int fd;
  int events;   // what uv_poll watches now
  int active;   // polling, references held
  int closed;   // the uv handle is closed
  int wrapped;  // the JS Poller object still points here
  struct mmsghdr *msgs;
  struct iovec *iov;
  any_addr *names;
} poller_t;

static void poller_free(poller_t *p) {
  free(p->msgs);
  free(p->iov);
  free(p->names);
  free(p);
}

static void poller_closed(uv_handle_t *h) {
  poller_t *p = h->data;
  p->closed = 1;
  if (!p->wrapped) poller_free(p);
}

static void poller_finalize(napi_env env, void *data, void *hint) {
  poller_t *p = data;
  p->wrapped = 0;
  if (p->closed) poller_free(p);
}

static void poller_env_teardown(void *arg);

static void poller_release(poller_t *p) {
  if (!p->active) return;
  p->active = 0;
  napi_remove_env_cleanup_hook(p->env, poller_env_teardown, p);
  uv_poll_stop(&p->poll);
  napi_delete_reference(p->env, p->ring_ref);
  napi_delete_reference(p->env, p->meta_ref);
  napi_delete_reference(p->env, p->on_batch);
  napi_delete_reference(p->env, p->on_writable);
  napi_delete_reference(p->env, p->on_error);
  napi_async_destroy(p->env, p->async);
  uv_close((uv_handle_t *)&p->poll, poller_closed);
}

static void poller_env_teardown(void *arg) { poller_release(arg); }

static void call_js(poller_t *p, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_env env = p->env;
  napi_value fn, recv, result;
  if (napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(env, &recv);
  // make_callback: the nextTick queue and microtasks run when it returns, as after any other event.
  napi_make_callback(env, p->async, recv, fn, argc, argv, &result);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value ex;
    napi_get_and_clear_last_exception(env, &ex);
    napi_fatal_exception(env, ex);
  }
}

static void on_event(uv_poll_t *h, int status, int events);

static void set_events(poller_t *p, int events) {
  if (!p->active || events == p->events) return;
  p->events = events;
  uv_poll_start(&p->poll, events, on_event);
}

static void report_error(poller_t *p, int err, const char *what) {
  napi_value e = make_errno_error(p->env, err, what);
  call_js(p, p->on_error, 1, &e);
  poller_release(p);  // a persistent socket error repeats forever: stop instead of spinning
}

static void drain(poller_t *p) {
  napi_env env = p->env;
  for (int round = 0; round < MAX_ROUNDS && p->active; round++) {
    for (uint32_t i = 0; i < p->slots; i++) {
      p->msgs[i].msg_hdr.msg_namelen = sizeof(any_addr);
      p->msgs[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(p->fd, p->msgs, p->slots, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      // ECONNREFUSED and the like are ICMP errors queued for an earlier send: nothing to read, nothing broken.
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED || errno == EHOSTUNREACH ||
          errno == ENETUNREACH)
        return;
      report_error(p, errno, "recvmmsg");
      return;
    }
    if (n == 0) return;
    for (int i = 0; i < n; i++) {
      uint32_t *m = p->meta + (size_t)i * META_WORDS;
      m[0] = p->msgs[i].msg_len;
      if (!words_of(&p->names[i], p->msgs[i].msg_hdr.msg_namelen, m + 4, &m[1])) memset(m + 1, 0, 7 * sizeof *m);
      m[2] = (p->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? 1 : 0;
      m[3] = 0;
    }
    napi_value count;
    if (napi_create_uint32(env, (uint32_t)n, &count) != napi_ok) return;
    call_js(p, p->on_batch, 1, &count);
    if ((uint32_t)n < p->slots) return;
  }
}

static void on_event(uv_poll_t *h, int status, int events) {
  poller_t *p = h->data;
  if (!p->active) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(p->env, &scope) != napi_ok) return;
  if (status < 0) {
    report_error(p, -status, "poll udp");
  } else {
    if ((events & UV_WRITABLE) && p->active) {
      set_events(p, UV_READABLE);
      call_js(p, p->on_writable, 0, NULL);
    }
    if ((events & UV_READABLE) && p->active) drain(p);
  }
  napi_close_handle_scope(p->env, scope);
}

static poller_t *poller_of(napi_env env, napi_callback_info info) {
  napi_value self;
  size_t argc = 0;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, NULL, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) return NULL;
  return data;
}

static napi_value poller_stop(napi_env env, napi_callback_info info) {
  poller_t *p = poller_of(env, info);
  if (p) poller_release(p);
  return NULL;
}

static napi_value poller_want_writable(napi_env env, napi_callback_info info) {
  poller_t *p = poller_of(env, info);
  if (p) set_events(p, UV_READABLE | UV_WRITABLE);
  return NULL;
}

static napi_value udp_start_poll(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  const char *usage = "udp addon: startPoll(fd, ring: Buffer, meta: Buffer, slotBytes, onBatch, onWritable, onError)";
  if (!get_args(env, info, 7, argv)) return throw_args(env, usage);
  int32_t fd, slot_bytes;
  void *ring, *meta;
  size_t ring_len, meta_len;
  if (!get_int(env, argv[0], &fd) || !get_buffer(env, argv[1], &ring, &ring_len) ||
      !get_buffer(env, argv[2], &meta, &meta_len) || !get_int(env, argv[3], &slot_bytes) || slot_bytes <= 0)
    return throw_args(env, usage);
  for (int i = 4; i < 7; i++) {
    napi_valuetype t;
    napi_typeof(env, argv[i], &t);
    if (t != napi_function) return throw_args(env, usage);
  }
  size_t slots = ring_len / (size_t)slot_bytes;
  if (slots == 0 || slots > MAX_SLOTS || meta_len < slots * META_WORDS * sizeof(uint32_t) || ((uintptr_t)meta & 3))
    return throw_args(env, "udp addon: startPoll: ring holds no slot, more than 1024, or meta is too small or unaligned");

  uv_loop_t *loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  poller_t *p = calloc(1, sizeof *p);
  if (!p) return throw_errno(env, ENOMEM, "startPoll");
  p->msgs = calloc(slots, sizeof *p->msgs);
  p->iov = calloc(slots, sizeof *p->iov);
  p->names = calloc(slots, sizeof *p->names);
  if (!p->msgs || !p->iov || !p->names) {
    poller_free(p);
    return throw_errno(env, ENOMEM, "startPoll");
  }
  p->env = env;
  p->fd = fd;
  p->ring = ring;
  p->meta = meta;
  p->slots = (uint32_t)slots;
  p->slot_bytes = (uint32_t)slot_bytes;
  for (size_t i = 0; i < slots; i++) {
    p->iov[i].iov_base = p->ring + i * (size_t)slot_bytes;
    p->iov[i].iov_len = (size_t)slot_bytes;
    p->msgs[i].msg_hdr.msg_iov = &p->iov[i];
    p->msgs[i].msg_hdr.msg_iovlen = 1;
    p->msgs[i].msg_hdr.msg_name = &p->names[i];
  }
  int rc = uv_poll_init(loop, &p->poll, fd);
  if (rc < 0) {
    poller_free(p);
    return throw_errno(env, -rc, "uv_poll_init");
  }
  p->poll.data = p;
  napi_value self, fn, resource_name;
  CHECK(env, napi_create_object(env, &self));
  CHECK(env, napi_create_function(env, "stop", NAPI_AUTO_LENGTH, poller_stop, NULL, &fn));
  CHECK(env, napi_set_named_property(env, self, "stop", fn));
  CHECK(env, napi_create_function(env, "wantWritable", NAPI_AUTO_LENGTH, poller_want_writable, NULL, &fn));
  CHECK(env, napi_set_named_property(env, self, "wantWritable", fn));
  CHECK(env, napi_create_string_utf8(env, "nanovpn:udp", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(env, napi_async_init(env, self, resource_name, &p->async));
  CHECK(env, napi_create_reference(env, argv[1], 1, &p->ring_ref));
  CHECK(env, napi_create_reference(env, argv[2], 1, &p->meta_ref));
  CHECK(env, napi_create_reference(env, argv[4], 1, &p->on_batch));
  CHECK(env, napi_create_reference(env, argv[5], 1, &p->on_writable));
  CHECK(env, napi_create_reference(env, argv[6], 1, &p->on_error));
  CHECK(env, napi_wrap(env, self, p, poller_finalize, NULL, NULL));
  p->wrapped = 1;
  p->active = 1;
  CHECK(env, napi_add_env_cleanup_hook(env, poller_env_teardown, p));
  p->events = UV_READABLE;
  rc = uv_poll_start(&p->poll, UV_READABLE, on_event);
  if (rc < 0) {
    poller_release(p);
    return throw_errno(env, -rc, "uv_poll_start");
  }
  return self;
}

// ---- sendBatch ----------------------------------------------------------------------------------------------

static napi_value udp_send_batch(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  const char *usage = "udp addon: sendBatch(fd, bufs: Buffer[], parts, addrs, ports: Uint32Array, count, stats: Uint32Array, family: 4 | 6)";
  if (!get_args(env, info, 8, argv)) return throw_args(env, usage);
  int32_t fd, count, fam;
  uint32_t *parts, *addrs, *ports, *stats;
  size_t parts_len, addrs_len, ports_len, stats_len;
  bool is_array = false;
  if (!get_int(env, argv[0], &fd) || napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      !get_u32_array(env, argv[2], &parts, &parts_len) || !get_u32_array(env, argv[3], &addrs, &addrs_len) ||
      !get_u32_array(env, argv[4], &ports, &ports_len) || !get_int(env, argv[5], &count) ||
      !get_u32_array(env, argv[6], &stats, &stats_len) || count < 0 || (size_t)count > parts_len ||
      (size_t)count * 4 > addrs_len || (size_t)count > ports_len || stats_len < 2 || !get_int(env, argv[7], &fam) ||
      (fam != 4 && fam != 6))
    return throw_args(env, usage);
  int family = fam == 6 ? AF_INET6 : AF_INET;
  uint32_t nbufs;
  CHECK(env, napi_get_array_length(env, argv[1], &nbufs));

  struct mmsghdr msgs[SEND_BATCH];
  any_addr names[SEND_BATCH];
  struct iovec iov[MAX_IOV];
  int32_t done = 0;
  uint32_t buf_at = 0;
  while (done < count) {
    // Fill one sendmmsg call: as many datagrams as fit in SEND_BATCH headers and MAX_IOV pieces.
    int n = 0;
    size_t used = 0;
    uint32_t at = buf_at;
    while (done + n < count && n < SEND_BATCH) {
      uint32_t k = parts[done + n];
      if (k == 0 || k > MAX_IOV || at + k > nbufs) return throw_args(env, "udp addon: sendBatch: parts do not match bufs");
      socklen_t name_len;
      if (n == 0 && !addr_of(family, addrs + (size_t)done * 4, ports[done], &names[0], &name_len)) {
        // No IPv4 socket reaches an IPv6 peer: skip it as the kernel would refuse it.
        stats[0]++;
        stats[1] = EAFNOSUPPORT;
        buf_at += k;
        done++;
        at = buf_at;
        continue;
      }
      if (n > 0 && !addr_of(family, addrs + (size_t)(done + n) * 4, ports[done + n], &names[n], &name_len)) break;
      if (used + k > MAX_IOV) break;
      for (uint32_t j = 0; j < k; j++) {
        napi_value b;
        void *data;
        size_t len;
        if (napi_get_element(env, argv[1], at + j, &b) != napi_ok || !get_buffer(env, b, &data, &len))
          return throw_args(env, "udp addon: sendBatch: bufs must hold Buffers");
        iov[used + j].iov_base = data;
        iov[used + j].iov_len = len;
      }
      memset(&msgs[n], 0, sizeof msgs[n]);
      msgs[n].msg_hdr.msg_name = &names[n];
      msgs[n].msg_hdr.msg_namelen = name_len;
      msgs[n].msg_hdr.msg_iov = &iov[used];
      msgs[n].msg_hdr.msg_iovlen = k;
      used += k;
      at += k;
      n++;
    }
    if (n == 0) continue;
    int sent = sendmmsg(fd, msgs, (unsigned)n, 0);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // This datagram cannot go (EMSGSIZE, an unreachable destination, ENOBUFS from a full device queue, which
      // never signals writable): skip it, keep the rest.
      stats[0]++;
      stats[1] = (uint32_t)errno;
      sent = 1;
    }
    for (int i = 0; i < sent; i++) buf_at += parts[done + i];
    done += sent;
  }
  napi_value out;
  CHECK(env, napi_create_int32(env, done, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, udp_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"startPoll", NULL, udp_start_poll, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendBatch", NULL, udp_send_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, udp_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"notify", NULL, udp_notify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mallocTrim", NULL, udp_malloc_trim, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
