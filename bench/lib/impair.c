// A userspace impairment bridge for the benchmark's path matrix (bench/lib/impair-link.ts), for kernels without
// sch_netem. It runs in a namespace of its own between two veth ends and forwards every Ethernet frame from one to
// the other, applying per direction: loss, duplication, a bottleneck rate with a bounded queue, delay with jitter,
// and reordering. Compiled by the benchmark with `gcc -O2` (bench/lib/impair-link.ts).
//
//   impair bridge IF_A IF_B [key=value ...]   forward until SIGTERM/SIGINT, then print the counters as JSON
//   impair simulate N GAP_MS BYTES [key=value ...]
//                        the scheduler alone on a fake clock: N frames of BYTES every GAP_MS in each direction,
//                        sent exactly when due; prints the counters as JSON (the unit tests use this)
//
// Keys (the same for both directions): delay=MS jitter=MS loss=P duplicate=P reorder=P rate=MBIT queue=MS seed=N,
// probabilities as fractions (0.01 = 1 %). The stages, in order, for each frame that arrives:
//   loss       dropped with probability `loss`
//   duplicate  with probability `duplicate` a second copy follows right behind the frame
//   rate       with rate > 0, each copy is serialized at that rate behind the copies already in the bottleneck; a copy
//              that would wait there more than `queue` ms is dropped (tail drop)
//   reorder    with probability `reorder` a copy skips the delay and leaves as soon as the bottleneck lets it,
//              overtaking what is held (netem's `reorder`); it is counted as reordered only if it overtook one
//   delay      `delay` ms plus jitter: the delay wanders between delay-jitter and delay+jitter, heading for a new
//              uniform random target each time it reaches one, at most 0.5 ms per ms, so at any packet rate the delays
//              spread over the whole range, and jitter alone never reorders
// Frames are read and written with PACKET_VNET_HDR, so checksum offload metadata crosses the bridge intact; the
// benchmark sets gso_max_segs 1 on the endpoints so that every frame is one wire packet.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define VNET_HDR_LEN 10
#define SLOT_BYTES 1600
#define HELD_SLOTS 65536
#define EXPRESS_SLOTS 8192
#define JITTER_SLOPE 0.5
#define BATCH 64

static const double BUCKETS_MS[] = { 1, 2, 5, 10, 15, 20, 25, 30, 35, 40, 50, 60, 80, 100, 150, 200, 300, 500 };
#define NBUCKETS (sizeof BUCKETS_MS / sizeof BUCKETS_MS[0])

struct spec { double delay, jitter, loss, dup, reorder, rate_mbit, queue; uint64_t seed; };

struct counters {
  uint64_t in, in_bytes, lost, duplicated, queue_dropped, reorder_chosen, reordered, scheduled;
  uint64_t out, out_bytes, send_errors, ring_full, oversize, pending;
  double delay_sum, delay_min, delay_max, late_sum, late_max, queue_max, peak_mbit;
  uint64_t hist[NBUCKETS + 1];
};

struct slot { double due, arrival; uint32_t len; unsigned char data[SLOT_BYTES]; };
struct ring { struct slot *s; uint32_t cap, head, n; };

struct dir {
  double delay, jitter, loss, dup, reorder, byte_time, queue;
  uint64_t rng;
  double busy_until, last_release;
  double seg_t0, seg_t1, seg_d0, seg_d1;
  long second; uint64_t second_bytes;
  struct ring held, express;
  struct counters c;
};

// splitmix64: a small, well-mixed generator; uniform doubles in [0, 1) from the top 53 bits.
static uint64_t next_u64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static double uniform01(uint64_t *x) { return (double)(next_u64(x) >> 11) * 0x1.0p-53; }
static int chance(struct dir *d, double p) { return p > 0 && uniform01(&d->rng) < p; }

static void ring_init(struct ring *r, uint32_t cap) {
  r->s = calloc(cap, sizeof *r->s);
  if (!r->s) { perror("calloc"); exit(1); }
  r->cap = cap; r->head = 0; r->n = 0;
}
static struct slot *ring_front(struct ring *r) { return r->n ? &r->s[r->head] : NULL; }
static void ring_pop(struct ring *r) { r->head = (r->head + 1) % r->cap; r->n--; }
static struct slot *ring_push(struct ring *r) {
  if (r->n == r->cap) return NULL;
  struct slot *s = &r->s[(r->head + r->n) % r->cap];
  r->n++;
  return s;
}

static void dir_init(struct dir *d, const struct spec *sp, uint64_t seed) {
  memset(d, 0, sizeof *d);
  d->delay = sp->delay / 1000; d->jitter = sp->jitter / 1000;
  d->loss = sp->loss; d->dup = sp->dup; d->reorder = sp->reorder;
  d->byte_time = sp->rate_mbit > 0 ? 8 / (sp->rate_mbit * 1e6) : 0;
  d->queue = sp->queue / 1000;
  d->rng = seed;
  d->seg_d0 = d->seg_d1 = d->delay;
  d->second = -1;
  d->c.delay_min = -1;
  ring_init(&d->held, HELD_SLOTS);
  ring_init(&d->express, EXPRESS_SLOTS);
}

static double delay_at(struct dir *d, double t) {
  if (d->jitter <= 0) return d->delay;
  if (t - d->seg_t1 > 1) d->seg_t1 = t;
  while (t >= d->seg_t1) {
    double target = d->delay + (2 * uniform01(&d->rng) - 1) * d->jitter;
    d->seg_t0 = d->seg_t1; d->seg_d0 = d->seg_d1;
    double span = (target > d->seg_d0 ? target - d->seg_d0 : d->seg_d0 - target) / JITTER_SLOPE;
    d->seg_t1 = d->seg_t0 + (span > 0.001 ? span : 0.001);
    d->seg_d1 = target;
  }
  return d->seg_d0 + (d->seg_d1 - d->seg_d0) * (t - d->seg_t0) / (d->seg_t1 - d->seg_t0);
}

/** Decides the fate of a frame arriving at `now` (`len` bytes with a vnet header of `hdr`): stores its copies in the
 * rings with their release times. */
static void admit(struct dir *d, double now, const unsigned char *frame, uint32_t len, uint32_t hdr) {
  struct counters *c = &d->c;
  uint32_t wire = len - hdr;
  c->in++;
  c->in_bytes += wire;
  if (chance(d, d->loss)) { c->lost++; return; }
  int copies = 1;
  if (chance(d, d->dup)) { copies = 2; c->duplicated++; }
  for (int k = 0; k < copies; k++) {
    double t = now;
    if (d->byte_time > 0) {
      double start = d->busy_until > now ? d->busy_until : now;
      if (start - now > d->queue) { c->queue_dropped++; continue; }
      d->busy_until = start + wire * d->byte_time;
      t = d->busy_until;
      if ((t - now) * 1000 > c->queue_max) c->queue_max = (t - now) * 1000;
    }
    struct ring *r = &d->held;
    if (chance(d, d->reorder)) {
      c->reorder_chosen++;
      struct slot *h = ring_front(&d->held);
      if (h && h->due > t) c->reordered++;
      r = &d->express;
    } else {
      double dl = delay_at(d, t);
      t += dl > 0 ? dl : 0;
      if (t < d->last_release) t = d->last_release;
      d->last_release = t;
    }
    struct slot *s = ring_push(r);
    if (!s) { c->ring_full++; continue; }
    s->due = t; s->arrival = now; s->len = len;
    if (frame) memcpy(s->data, frame, len);
    c->scheduled++;
  }
}

/** Books a copy that left at `now`; `bytes` is the Ethernet frame without the vnet header. */
static void sent(struct dir *d, const struct slot *s, double now, uint32_t bytes) {
  struct counters *c = &d->c;
  c->out++;
  c->out_bytes += bytes;
  double ms = (now - s->arrival) * 1000;
  c->delay_sum += ms;
  if (c->delay_min < 0 || ms < c->delay_min) c->delay_min = ms;
  if (ms > c->delay_max) c->delay_max = ms;
  size_t i = 0;
  while (i < NBUCKETS && ms >= BUCKETS_MS[i]) i++;
  c->hist[i]++;
  double late = (now - s->due) * 1000;
  if (late > 0) { c->late_sum += late; if (late > c->late_max) c->late_max = late; }
  long sec = (long)now;
  if (sec != d->second) { d->second = sec; d->second_bytes = 0; }
  d->second_bytes += bytes;
  if (d->second_bytes * 8 / 1e6 > c->peak_mbit) c->peak_mbit = d->second_bytes * 8 / 1e6;
}

/** The earlier of the two rings' fronts, or NULL. */
static struct ring *next_ring(struct dir *d) {
  struct slot *h = ring_front(&d->held), *e = ring_front(&d->express);
  if (!h && !e) return NULL;
  if (!h) return &d->express;
  if (!e) return &d->held;
  return e->due < h->due ? &d->express : &d->held;
}

static void print_counters(const char *name, const struct counters *c) {
  printf("\"%s\":{\"in\":%lu,\"inBytes\":%lu,\"lost\":%lu,\"duplicated\":%lu,\"queueDropped\":%lu,"
         "\"reorderChosen\":%lu,\"reordered\":%lu,\"scheduled\":%lu,\"out\":%lu,\"outBytes\":%lu,\"sendErrors\":%lu,"
         "\"ringFull\":%lu,\"oversize\":%lu,\"pending\":%lu,\"delaySumMs\":%.3f,\"delayMinMs\":%.3f,\"delayMaxMs\":%.3f,"
         "\"latenessSumMs\":%.3f,\"latenessMaxMs\":%.3f,\"queueMaxMs\":%.3f,\"peakMbit\":%.3f,\"delayHist\":[",
         name, c->in, c->in_bytes, c->lost, c->duplicated, c->queue_dropped, c->reorder_chosen, c->reordered,
         c->scheduled, c->out, c->out_bytes, c->send_errors, c->ring_full, c->oversize, c->pending, c->delay_sum,
         c->delay_min < 0 ? 0 : c->delay_min, c->delay_max, c->late_sum, c->late_max, c->queue_max, c->peak_mbit);
  for (size_t i = 0; i <= NBUCKETS; i++) printf("%s%lu", i ? "," : "", c->hist[i]);
  printf("]}");
}

static void print_report(struct dir d[2], const struct spec *sp, double seconds) {
  printf("{\"seed\":%lu,\"seconds\":%.3f,\"bucketsMs\":[", sp->seed, seconds);
  for (size_t i = 0; i < NBUCKETS; i++) printf("%s%g", i ? "," : "", BUCKETS_MS[i]);
  printf("],");
  print_counters("aToB", &d[0].c);
  printf(",");
  print_counters("bToA", &d[1].c);
  printf("}\n");
  fflush(stdout);
}

static int parse_spec(struct spec *sp, int argc, char **argv) {
  memset(sp, 0, sizeof *sp);
  sp->seed = 1;
  for (int i = 0; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    if (!eq) { fprintf(stderr, "impair: expected key=value, got '%s'\n", argv[i]); return -1; }
    *eq = 0;
    const char *k = argv[i];
    char *end;
    double v = strtod(eq + 1, &end);
    if (*end || end == eq + 1 || v < 0) { fprintf(stderr, "impair: bad value for %s\n", k); return -1; }
    if (!strcmp(k, "delay")) sp->delay = v;
    else if (!strcmp(k, "jitter")) sp->jitter = v;
    else if (!strcmp(k, "loss")) sp->loss = v;
    else if (!strcmp(k, "duplicate")) sp->dup = v;
    else if (!strcmp(k, "reorder")) sp->reorder = v;
    else if (!strcmp(k, "rate")) sp->rate_mbit = v;
    else if (!strcmp(k, "queue")) sp->queue = v;
    else if (!strcmp(k, "seed")) sp->seed = (uint64_t)v;
    else { fprintf(stderr, "impair: unknown key %s\n", k); return -1; }
  }
  if (sp->loss > 1 || sp->dup > 1 || sp->reorder > 1) { fprintf(stderr, "impair: probabilities are fractions\n"); return -1; }
  return 0;
}

static void init_dirs(struct dir d[2], const struct spec *sp) {
  uint64_t x = sp->seed;
  dir_init(&d[0], sp, next_u64(&x));
  dir_init(&d[1], sp, next_u64(&x));
}

static int simulate(int argc, char **argv) {
  if (argc < 3) return 2;
  long n = atol(argv[0]);
  double gap = atof(argv[1]) / 1000;
  uint32_t bytes = (uint32_t)atol(argv[2]);
  struct spec sp;
  if (parse_spec(&sp, argc - 3, argv + 3)) return 2;
  static struct dir d[2];
  init_dirs(d, &sp);
  for (long k = 0; k <= n; k++) {
    double now = k < n ? k * gap : 1e18;
    for (int i = 0; i < 2; i++) {
      struct ring *r;
      while ((r = next_ring(&d[i])) && ring_front(r)->due <= now) {
        struct slot *s = ring_front(r);
        sent(&d[i], s, s->due, s->len);
        ring_pop(r);
      }
      if (k < n) admit(&d[i], now, NULL, bytes, 0);
    }
  }
  print_report(d, &sp, n * gap);
  return 0;
}

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int packet_socket(const char *ifname) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
  if (fd < 0) { perror("socket(AF_PACKET)"); exit(1); }
  int one = 1, big = 16 << 20;
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one)) { perror("PACKET_VNET_HDR"); exit(1); }
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big)) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big)) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)if_nametoindex(ifname) };
  if (!sll.sll_ifindex) { fprintf(stderr, "impair: no interface %s\n", ifname); exit(1); }
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll)) { perror("bind"); exit(1); }
  return fd;
}

static int bridge(int argc, char **argv) {
  if (argc < 2) return 2;
  struct spec sp;
  if (parse_spec(&sp, argc - 2, argv + 2)) return 2;
  int fds[2] = { packet_socket(argv[0]), packet_socket(argv[1]) };
  static struct dir d[2];
  init_dirs(d, &sp);
  struct sigaction sa = { .sa_handler = on_signal };
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  static unsigned char bufs[BATCH][65536 + VNET_HDR_LEN];
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  for (int i = 0; i < BATCH; i++) {
    iovs[i] = (struct iovec){ bufs[i], sizeof bufs[i] };
    msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iovs[i], .msg_iovlen = 1 } };
  }
  double t0 = mono();
  printf("{\"ready\":true}\n");
  fflush(stdout);
  struct pollfd pfd[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };
  while (!stopping) {
    double now = mono(), next = now + 0.5;
    for (int i = 0; i < 2; i++) {
      struct ring *r = next_ring(&d[i]);
      if (r && ring_front(r)->due < next) next = ring_front(r)->due;
    }
    double wait = next - now;
    if (wait < 0) wait = 0;
    struct timespec ts = { (time_t)wait, (long)((wait - (time_t)wait) * 1e9) };
    int n = ppoll(pfd, 2, &ts, NULL);
    if (n < 0 && errno != EINTR) { perror("ppoll"); break; }
    for (int i = 0; i < 2 && n > 0; i++) {
      if (!(pfd[i].revents & POLLIN)) continue;
      int got = recvmmsg(fds[i], msgs, BATCH, MSG_DONTWAIT, NULL);
      now = mono();
      for (int k = 0; k < got; k++) {
        uint32_t len = msgs[k].msg_len;
        if (len > SLOT_BYTES) { d[i].c.in++; d[i].c.oversize++; continue; }
        admit(&d[i], now, bufs[k], len, VNET_HDR_LEN);
      }
    }
    now = mono();
    for (int i = 0; i < 2; i++) {
      struct ring *r;
      while ((r = next_ring(&d[i])) && ring_front(r)->due <= now) {
        struct slot *s = ring_front(r);
        ssize_t w = send(fds[1 - i], s->data, s->len, MSG_DONTWAIT);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) break;   // the peer's queue is full: try again next turn
        if (w < 0) d[i].c.send_errors++;
        else sent(&d[i], s, now, s->len - VNET_HDR_LEN);
        ring_pop(r);
      }
    }
  }
  for (int i = 0; i < 2; i++) d[i].c.pending = d[i].held.n + d[i].express.n;
  print_report(d, &sp, mono() - t0);
  return 0;
}

int main(int argc, char **argv) {
  int rc = 2;
  if (argc >= 2 && !strcmp(argv[1], "bridge")) rc = bridge(argc - 2, argv + 2);
  else if (argc >= 2 && !strcmp(argv[1], "simulate")) rc = simulate(argc - 2, argv + 2);
  if (rc == 2) fprintf(stderr, "usage: impair bridge IF_A IF_B [key=value ...] | impair simulate N GAP_MS BYTES [key=value ...]\n");
  return rc;
}
