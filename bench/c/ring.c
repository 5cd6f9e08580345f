/*
 * C baseline for the shared-memory ring (docs/ipc_ring.md, layout version 2):
 * the same 4,352-byte header, 64-byte slots and per-slot seqlock as
 * common/ipc, with the same atomic orderings as the JS code (seq-cst stores of
 * the seqlock word and the write position, seq-cst loads of the seqlock word),
 * and a producer and a spinning consumer in two processes (fork).
 *
 *   ring throughput N        producer writes N trades as fast as it can
 *   ring latency N RATE      producer paces at RATE trades/s (absolute
 *                            clock_nanosleep, timer slack 1 ns, as
 *                            bench/_ring_worker.ts does) and stamps
 *                            CLOCK_MONOTONIC ns into each record
 *
 * Prints one JSON line on stdout. Exit status 0 on success, 1 on error.
 * The segment is /marketbus_cring_<pid>; it is unlinked as soon as both
 * processes have mapped it, and on any error or SIGINT/SIGTERM before that.
 *
 * Build: cc -std=c11 -O2 -march=native -pthread -o ring ring.c -lrt
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#define RING_MAGIC 0x4752424Du
#define LAYOUT_VERSION 2u
#define REGISTRY_OFFSET 256u
#define REGISTRY_SLOTS 64u
#define REGISTRY_SLOT_SIZE 64u
#define HEADER_SIZE (REGISTRY_OFFSET + REGISTRY_SLOTS * REGISTRY_SLOT_SIZE)
#define SLOT_SIZE 64u
#define RECORD_SIZE 48u
#define RECORD_WORDS (RECORD_SIZE / 4u)
#define CAPACITY 65536u /* bench/ring.ts CAPACITY */

/* Header word indexes (byte offset / 4). */
#define W_MAGIC 0
#define W_VERSION 1
#define W_HEADER_SIZE 2
#define W_CAPACITY 3
#define W_SLOT_SIZE 4
#define W_PAYLOAD_SIZE 5
#define W_WIRE_VERSION 6
#define W_PRODUCER_PID 7
#define W_EPOCH 8
#define W_HEARTBEAT_MS 9
#define W_REGISTRY_SLOTS 14
#define W_REGISTRY_SLOT_SIZE 15
#define W_WRITE_LO 16 /* byte 64, line 1 */
#define W_WRITE_HI 17
#define W_STATE 18
#define W_SLEEPERS 32 /* byte 128, line 2 */
#define W_WAKE 33

#define STATE_OPEN 1
#define STATE_CLOSED 2

/* Within a record, as bench/_ring_worker.ts uses it. */
#define SEQ_WORD 1   /* bytes 4..7: the position (low 32 bits) */
#define STAMP_WORD 4 /* bytes 16..23 (ts_recv): the CLOCK_MONOTONIC stamp, ns */
#define CHECK_WORD 11 /* bytes 44..47: ~seq, to detect torn records */

typedef struct {
  _Atomic int32_t seq; /* @0 */
  uint32_t unused;     /* @4 */
  _Atomic uint32_t position_lo; /* @8 */
  _Atomic uint32_t position_hi; /* @12 */
  _Atomic uint32_t record[RECORD_WORDS]; /* @16 */
} slot_t;
_Static_assert(sizeof(slot_t) == SLOT_SIZE, "slot is one cache line");

typedef struct {
  int64_t received, lost, corrupt, elapsed_ns;
  int64_t p50, p99, p999, max, min;
  int32_t ok;
} result_t;

static char segment_name[64];
static volatile sig_atomic_t segment_linked = 0;

static void unlink_segment(void) {
  if (segment_linked) {
    shm_unlink(segment_name);
    segment_linked = 0;
  }
}

static void on_signal(int sig) {
  unlink_segment();
  signal(sig, SIG_DFL);
  raise(sig);
}

static void die(const char *what) {
  fprintf(stderr, "ring: %s: %s\n", what, strerror(errno));
  unlink_segment();
  exit(1);
}

static inline int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t segment_size(void) {
  return HEADER_SIZE + (size_t)SLOT_SIZE * CAPACITY;
}

static _Atomic int32_t *map_segment(int create) {
  int fd = shm_open(segment_name, create ? O_RDWR | O_CREAT | O_EXCL : O_RDWR,
                    0600);
  if (fd < 0) die("shm_open");
  if (create) {
    segment_linked = 1;
    if (ftruncate(fd, (off_t)segment_size()) != 0) die("ftruncate");
    int err = posix_fallocate(fd, 0, (off_t)segment_size());
    if (err != 0) {
      errno = err;
      die("posix_fallocate");
    }
  }
  void *base = mmap(NULL, segment_size(), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_POPULATE, fd, 0);
  if (base == MAP_FAILED) die("mmap");
  close(fd);
  return (_Atomic int32_t *)base;
}

static inline slot_t *slot_at(_Atomic int32_t *words, uint32_t index) {
  return (slot_t *)((char *)words + HEADER_SIZE + (size_t)SLOT_SIZE * index);
}

/* ------------------------------------------------------------------------ */
/* Producer: common/ipc/ring_writer.ts #put + #commit. */

typedef struct {
  _Atomic int32_t *words;
  uint64_t position;
  uint32_t slot;
  int32_t lap_sequence; /* stable seq of this lap: 2, 4, ... never 0 */
  uint32_t published_hi;
} writer_t;

static void writer_init(writer_t *w, _Atomic int32_t *words) {
  uint32_t *raw = (uint32_t *)words;
  raw[W_VERSION] = LAYOUT_VERSION;
  raw[W_HEADER_SIZE] = HEADER_SIZE;
  raw[W_CAPACITY] = CAPACITY;
  raw[W_SLOT_SIZE] = SLOT_SIZE;
  raw[W_PAYLOAD_SIZE] = RECORD_SIZE;
  raw[W_WIRE_VERSION] = 1;
  raw[W_PRODUCER_PID] = (uint32_t)getpid();
  raw[W_EPOCH] = (uint32_t)now_ns() | 1u;
  raw[W_HEARTBEAT_MS] = 1000;
  raw[W_REGISTRY_SLOTS] = REGISTRY_SLOTS;
  raw[W_REGISTRY_SLOT_SIZE] = REGISTRY_SLOT_SIZE;
  atomic_store(&words[W_STATE], STATE_OPEN);
  atomic_store(&words[W_MAGIC], (int32_t)RING_MAGIC); /* last */
  w->words = words;
  w->position = 0;
  w->slot = 0;
  w->lap_sequence = 2;
  w->published_hi = 0;
}

static inline void writer_write(writer_t *w, const uint32_t *record) {
  slot_t *s = slot_at(w->words, w->slot);
  int32_t stable = w->lap_sequence;
  atomic_store(&s->seq, stable - 1); /* odd: being written (seq-cst) */
  atomic_store_explicit(&s->position_lo, (uint32_t)w->position,
                        memory_order_relaxed);
  atomic_store_explicit(&s->position_hi, (uint32_t)(w->position >> 32),
                        memory_order_relaxed);
  for (unsigned i = 0; i < RECORD_WORDS; i++) {
    atomic_store_explicit(&s->record[i], record[i], memory_order_relaxed);
  }
  atomic_store(&s->seq, stable); /* even, non-zero: stable (seq-cst) */
  w->position++;
  w->slot = (w->slot + 1) & (CAPACITY - 1);
  if (w->slot == 0) {
    int32_t next = (int32_t)((uint32_t)stable + 2u);
    w->lap_sequence = next == 0 ? 2 : next;
  }
  /* Commit: the write position, then the sleepers check. */
  atomic_store(&w->words[W_WRITE_LO], (int32_t)(uint32_t)w->position);
  uint32_t hi = (uint32_t)(w->position >> 32);
  if (hi != w->published_hi) {
    atomic_store(&w->words[W_WRITE_HI], (int32_t)hi);
    w->published_hi = hi;
  }
  if (atomic_load(&w->words[W_SLEEPERS]) != 0) {
    atomic_fetch_add(&w->words[W_WAKE], 1);
    syscall(SYS_futex, &w->words[W_WAKE], FUTEX_WAKE, INT32_MAX, NULL, NULL,
            0);
  }
}

/* ------------------------------------------------------------------------ */
/* Consumer: common/ipc/_ring_cursor.ts take(), spinning. */

typedef struct {
  _Atomic int32_t *words;
  uint64_t position;
  int64_t lost;
} reader_t;

/* 1: copied trade `position` into `out`; 0: not written yet. */
static inline int reader_read(reader_t *r, uint32_t *out) {
  for (;;) {
    slot_t *s = slot_at(r->words, (uint32_t)r->position & (CAPACITY - 1));
    int32_t a = atomic_load(&s->seq);
    if ((a & 1) != 0 || a == 0) return 0;
    uint64_t q =
        ((uint64_t)atomic_load_explicit(&s->position_hi, memory_order_relaxed)
         << 32) |
        atomic_load_explicit(&s->position_lo, memory_order_relaxed);
    if (q < r->position) return 0; /* previous lap: not written yet */
    if (q > r->position) {         /* lapped: resync half a ring behind */
      uint64_t w =
          ((uint64_t)(uint32_t)atomic_load(&r->words[W_WRITE_HI]) << 32) |
          (uint32_t)atomic_load(&r->words[W_WRITE_LO]);
      uint64_t restart = r->position + 1;
      if (w >= CAPACITY / 2 && w - CAPACITY / 2 > restart) {
        restart = w - CAPACITY / 2;
      }
      r->lost += (int64_t)(restart - r->position);
      r->position = restart;
      continue;
    }
    for (unsigned i = 0; i < RECORD_WORDS; i++) {
      out[i] = atomic_load_explicit(&s->record[i], memory_order_relaxed);
    }
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load(&s->seq) != a) continue; /* rewritten during the copy */
    r->position++;
    return 1;
  }
}

static int compare_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Exact percentile of sorted samples, as bench/_ring_worker.ts summarize(). */
static int64_t at_quantile(const int64_t *sorted, int64_t count, double q) {
  int64_t i = (int64_t)ceil(q * (double)count) - 1;
  if (i < 0) i = 0;
  if (i > count - 1) i = count - 1;
  return sorted[i];
}

/* Maps the segment, says ready on `ready_fd`, then reads `trades` trades. */
static result_t consume(int64_t trades, int latency, int ready_fd) {
  result_t res;
  memset(&res, 0, sizeof res);
  reader_t r = {.words = map_segment(0), .position = 0, .lost = 0};
  int64_t *samples = NULL;
  if (latency) {
    samples = malloc(sizeof(int64_t) * (size_t)trades);
    if (samples == NULL) die("malloc");
    memset(samples, 0, sizeof(int64_t) * (size_t)trades); /* fault in now */
  }
  char byte = 'r';
  if (write(ready_fd, &byte, 1) != 1) die("write");
  close(ready_fd);
  uint32_t record[RECORD_WORDS];
  int64_t previous = -1, count = 0, t0 = 0, t1 = 0;
  uint64_t idle = 0;
  while ((int64_t)r.position < trades) {
    if (!reader_read(&r, record)) {
      if ((++idle & 0xfffff) == 0 &&
          atomic_load(&r.words[W_STATE]) != STATE_OPEN &&
          (uint32_t)atomic_load(&r.words[W_WRITE_LO]) ==
              (uint32_t)r.position) {
        fprintf(stderr, "ring: producer closed the ring early\n");
        return res; /* ok = 0 */
      }
      continue;
    }
    int64_t now = latency || t0 == 0 ? now_ns() : 0;
    if (t0 == 0) t0 = now;
    uint32_t seq = record[SEQ_WORD];
    if (record[CHECK_WORD] != ~seq || (int64_t)seq <= previous) {
      res.corrupt++;
    } else {
      previous = seq;
    }
    if (latency) {
      int64_t stamp;
      memcpy(&stamp, &record[STAMP_WORD], sizeof stamp);
      samples[count] = now - stamp;
    }
    count++;
  }
  t1 = now_ns();
  res.received = count;
  res.lost = r.lost;
  res.elapsed_ns = t1 - t0;
  if (latency && count > 0) {
    qsort(samples, (size_t)count, sizeof(int64_t), compare_i64);
    res.p50 = at_quantile(samples, count, 0.5);
    res.p99 = at_quantile(samples, count, 0.99);
    res.p999 = at_quantile(samples, count, 0.999);
    res.max = samples[count - 1];
    res.min = samples[0];
  }
  free(samples);
  res.ok = 1;
  return res;
}

/* ------------------------------------------------------------------------ */
/* Producer loops: bench/_ring_worker.ts produce(). */

static void sleep_until(int64_t at) {
  struct timespec ts = {.tv_sec = at / 1000000000, .tv_nsec = at % 1000000000};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

static int64_t produce(writer_t *w, int64_t trades, double rate) {
  uint32_t record[RECORD_WORDS];
  for (unsigned i = 0; i < RECORD_WORDS; i++) record[i] = 0x01010101u * i;
  int64_t t0 = now_ns();
  if (rate <= 0) {
    for (int64_t p = 0; p < trades; p++) {
      record[SEQ_WORD] = (uint32_t)p;
      record[CHECK_WORD] = ~(uint32_t)p;
      writer_write(w, record);
    }
  } else {
    int64_t period = llround(1e9 / rate);
    int64_t due = now_ns();
    for (int64_t p = 0; p < trades; p++) {
      due += period;
      int64_t now = now_ns();
      if (now < due) {
        sleep_until(due);
        now = now_ns();
      }
      while (now < due) now = now_ns();
      if (now - due > period) due = now; /* fell behind: never burst */
      record[SEQ_WORD] = (uint32_t)p;
      record[CHECK_WORD] = ~(uint32_t)p;
      int64_t stamp = now_ns(); /* before the slot is touched */
      memcpy(&record[STAMP_WORD], &stamp, sizeof stamp);
      writer_write(w, record);
    }
  }
  return now_ns() - t0;
}

/* ------------------------------------------------------------------------ */

static void usage(void) {
  fprintf(stderr, "usage: ring throughput N | ring latency N RATE\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 3) usage();
  int latency;
  if (strcmp(argv[1], "throughput") == 0 && argc == 3) {
    latency = 0;
  } else if (strcmp(argv[1], "latency") == 0 && argc == 4) {
    latency = 1;
  } else {
    usage();
  }
  char *end;
  long long trades = strtoll(argv[2], &end, 10);
  if (*end != '\0' || trades < 1 || trades > (1LL << 40)) usage();
  double rate = 0;
  if (latency) {
    rate = strtod(argv[3], &end);
    if (*end != '\0' || !(rate > 0) || rate > 1e9) usage();
  }

  snprintf(segment_name, sizeof segment_name, "/marketbus_cring_%d",
           (int)getpid());
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGHUP, on_signal);
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL); /* default slack is 50 µs */

  _Atomic int32_t *words = map_segment(1);
  writer_t writer;
  writer_init(&writer, words);

  int ready[2], results[2];
  if (pipe(ready) != 0 || pipe(results) != 0) die("pipe");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    /* Consumer: maps the segment by name, as a separate process would. */
    segment_linked = 0; /* the parent owns the name */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0UL, 0UL, 0UL); /* never spin orphaned */
    if (getppid() == 1) _exit(1);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    close(ready[0]);
    close(results[0]);
    munmap((void *)words, segment_size()); /* consume() maps it by name */
    result_t res = consume(trades, latency, ready[1]);
    ssize_t n = write(results[1], &res, sizeof res);
    _exit(n == (ssize_t)sizeof res && res.ok ? 0 : 1);
  }
  close(ready[1]);
  close(results[1]);
  char byte;
  ssize_t got = read(ready[0], &byte, 1);
  if (got != 1) {
    fprintf(stderr, "ring: the consumer did not start\n");
    unlink_segment();
    waitpid(child, NULL, 0);
    return 1;
  }
  unlink_segment(); /* both processes hold a mapping */

  int64_t produced_ns = produce(&writer, trades, rate);
  atomic_store(&words[W_STATE], STATE_CLOSED);

  result_t res;
  memset(&res, 0, sizeof res);
  got = read(results[0], &res, sizeof res);
  int status = 0;
  waitpid(child, &status, 0);
  if (got != (ssize_t)sizeof res || !res.ok || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    fprintf(stderr, "ring: the consumer failed (status %d)\n", status);
    return 1;
  }
  double producer_rate = (double)trades / (double)produced_ns * 1e9;
  if (latency) {
    printf("{\"mode\":\"latency\",\"trades\":%lld,\"rate\":%.0f,"
           "\"p50\":%lld,\"p99\":%lld,\"p999\":%lld,\"max\":%lld,"
           "\"min\":%lld,\"offered\":%.0f,\"lost\":%lld,\"corrupt\":%lld}\n",
           (long long)res.received, rate, (long long)res.p50,
           (long long)res.p99, (long long)res.p999, (long long)res.max,
           (long long)res.min, producer_rate, (long long)res.lost,
           (long long)res.corrupt);
  } else {
    double consumer_rate = (double)res.received / (double)res.elapsed_ns * 1e9;
    printf("{\"mode\":\"throughput\",\"trades\":%lld,\"rate\":%.0f,"
           "\"producer_rate\":%.0f,\"lost\":%lld,\"corrupt\":%lld}\n",
           (long long)res.received, consumer_rate, producer_rate,
           (long long)res.lost, (long long)res.corrupt);
  }
  return 0;
}
