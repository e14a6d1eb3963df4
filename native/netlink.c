// flowmig's netlink addon: synchronous netlink calls for the translator's fast path. The kernel
// handles a netlink request to itself inside the sender's sendmsg, so the acknowledgements are
// queued before sendmsg returns: one call here sends a request and reads its answers with no
// event-loop turn in between. Marshalling only; what to send and what the answers mean live in
// src/netlink/*.ts.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <uv.h>

#include "napi_common.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

static bool get_int(napi_env env, napi_value value, int32_t *out, const char *what) {
  if (napi_get_value_int32(env, value, out) != napi_ok) {
    char m[80];
    snprintf(m, sizeof m, "%s must be a number", what);
    throw_type(env, m);
    return false;
  }
  return true;
}

static bool get_buffer(napi_env env, napi_value value, void **data, size_t *length) {
  bool is;
  if (napi_is_buffer(env, value, &is) != napi_ok || !is) {
    throw_type(env, "data must be a Buffer");
    return false;
  }
  return napi_get_buffer_info(env, value, data, length) == napi_ok;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// ---------------------------------------------------------------------------------------------
// open(protocol, netnsPath, rcvbuf, sndbuf, groups[]) → fd
// A non-blocking, close-on-exec netlink socket. With a netns path (e.g. /run/netns/x) the socket
// is created in that namespace: this thread enters it for the socket() call only and returns to
// its own namespace before anything else runs. A socket belongs to the namespace it was made in.

static int socket_in(const char *netns, int protocol, int *err_call) {
  if (netns == NULL || netns[0] == '\0') {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
    *err_call = 0;
    return fd;
  }
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    *err_call = 1;
    return -1;
  }
  int target = open(netns, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int e = errno;
    close(self);
    errno = e;
    *err_call = 2;
    return -1;
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int e = errno;
    close(self);
    close(target);
    errno = e;
    *err_call = 3;
    return -1;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
  int e = errno;
  if (setns(self, CLONE_NEWNET) != 0) {
    // This thread would go on in the wrong namespace: nothing after this could be trusted.
    fprintf(stderr, "flowmig netlink addon: cannot return to the own network namespace: %s\n",
            strerror(errno));
    abort();
  }
  close(self);
  close(target);
  errno = e;
  *err_call = 0;
  return fd;
}

static napi_value Open(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  int32_t protocol, rcvbuf, sndbuf;
  if (!get_int(env, argv[0], &protocol, "protocol")) return NULL;
  char netns[4096] = "";
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t == napi_string) {
    size_t n;
    if (napi_get_value_string_utf8(env, argv[1], netns, sizeof netns, &n) != napi_ok) return NULL;
    if (n >= sizeof netns - 1) {
      throw_type(env, "netns path too long");
      return NULL;
    }
  } else if (t != napi_null && t != napi_undefined) {
    throw_type(env, "netns must be a path or null");
    return NULL;
  }
  if (!get_int(env, argv[2], &rcvbuf, "rcvbuf")) return NULL;
  if (!get_int(env, argv[3], &sndbuf, "sndbuf")) return NULL;
  bool is_array;
  napi_is_array(env, argv[4], &is_array);
  if (!is_array) {
    throw_type(env, "groups must be an array");
    return NULL;
  }
  int which = 0;
  int fd = socket_in(netns, protocol, &which);
  if (fd < 0) {
    static const char *what[] = {"socket", "open", "open", "setns"};
    throw_errno(env, what[which], which == 0 ? "AF_NETLINK" : netns, -1, errno);
    return NULL;
  }
  // Root may exceed the system's maximum (SO_*BUFFORCE); others get what the maximum allows.
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int e = errno;
    close(fd);
    throw_errno(env, "bind", "AF_NETLINK", -1, e);
    return NULL;
  }
  uint32_t count;
  napi_get_array_length(env, argv[4], &count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value v;
    int32_t group;
    napi_get_element(env, argv[4], i, &v);
    if (!get_int(env, v, &group, "group")) {
      close(fd);
      return NULL;
    }
    if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
      int e = errno;
      close(fd);
      throw_errno(env, "setsockopt", "NETLINK_ADD_MEMBERSHIP", -1, e);
      return NULL;
    }
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t fd;
  if (!get_int(env, argv[0], &fd, "fd")) return NULL;
  if (fd >= 0) close(fd);
  return NULL;
}

// ---------------------------------------------------------------------------------------------
// Receiving. One buffer for every call: the addon is used from one thread (the main one).

#define RECV_SIZE (1 << 20)
static char *recv_buf;

static bool ensure_buf(napi_env env) {
  if (recv_buf == NULL) recv_buf = malloc(RECV_SIZE);
  if (recv_buf == NULL) {
    throw_errno(env, "malloc", "receive buffer", -1, ENOMEM);
    return false;
  }
  return true;
}

/** Waits until fd is readable or the deadline passes; 0, or an errno (ETIMEDOUT). */
static int wait_readable(int fd, double deadline) {
  for (;;) {
    double left = deadline - now_ms();
    if (left <= 0) return ETIMEDOUT;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, (int)(left + 1));
    if (r > 0) return 0;
    if (r < 0 && errno != EINTR) return errno;
  }
}

/** One datagram into recv_buf: its length, -1 when none is queued, or -errno. */
static ssize_t recv_one(int fd) {
  for (;;) {
    ssize_t n = recv(fd, recv_buf, RECV_SIZE, MSG_DONTWAIT | MSG_TRUNC);
    if (n >= 0) return n > RECV_SIZE ? -EMSGSIZE : n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    return -errno;
  }
}

static int send_all(int fd, const void *data, size_t length) {
  for (;;) {
    ssize_t n = send(fd, data, length, 0);
    if (n >= 0) return 0;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      poll(&p, 1, 1000);
      continue;
    }
    return errno;
  }
}

// ---------------------------------------------------------------------------------------------
// transact(fd, data, seqs: Uint32Array, timeoutMs) → Int32Array
// Sends `data` (one or more messages) and reads until every sequence in `seqs` is answered by an
// NLMSG_ERROR message; returns each one's errno (0 for an acknowledgement), in the order of
// `seqs`. Answers to other sequences are skipped. Throws ETIMEDOUT when one stays unanswered.

typedef struct {
  uint32_t seq;
  uint32_t index;
} seq_slot;

static int by_seq(const void *a, const void *b) {
  uint32_t x = ((const seq_slot *)a)->seq, y = ((const seq_slot *)b)->seq;
  return x < y ? -1 : x > y;
}

static napi_value Transact(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  int32_t fd, timeout;
  if (!get_int(env, argv[0], &fd, "fd")) return NULL;
  void *data;
  size_t length;
  if (!get_buffer(env, argv[1], &data, &length)) return NULL;
  bool is_typed;
  napi_is_typedarray(env, argv[2], &is_typed);
  napi_typedarray_type kind = napi_int8_array;
  size_t count = 0;
  void *seq_data = NULL;
  if (is_typed)
    napi_get_typedarray_info(env, argv[2], &kind, &count, &seq_data, NULL, NULL);
  if (!is_typed || kind != napi_uint32_array) {
    throw_type(env, "seqs must be a Uint32Array");
    return NULL;
  }
  if (!get_int(env, argv[3], &timeout, "timeoutMs")) return NULL;
  if (!ensure_buf(env)) return NULL;

  napi_value result_buffer, result;
  void *result_data;
  napi_create_arraybuffer(env, count * sizeof(int32_t), &result_data, &result_buffer);
  napi_create_typedarray(env, napi_int32_array, count, result_buffer, 0, &result);
  int32_t *errors = result_data;
  seq_slot *slots = malloc((count ? count : 1) * sizeof *slots);
  uint8_t *done = calloc(count ? count : 1, 1);
  if (slots == NULL || done == NULL) {
    free(slots);
    free(done);
    throw_errno(env, "malloc", "sequence table", -1, ENOMEM);
    return NULL;
  }
  const uint32_t *seqs = seq_data;
  for (size_t i = 0; i < count; i++) {
    slots[i].seq = seqs[i];
    slots[i].index = (uint32_t)i;
    errors[i] = 0;
  }
  qsort(slots, count, sizeof *slots, by_seq);

  int err = send_all(fd, data, length);
  if (err != 0) {
    free(slots);
    free(done);
    throw_errno(env, "send", "netlink request", -1, err);
    return NULL;
  }
  size_t left = count;
  double deadline = now_ms() + timeout;
  while (left > 0) {
    ssize_t n = recv_one(fd);
    if (n == -1) {
      err = wait_readable(fd, deadline);
      if (err != 0) break;
      continue;
    }
    if (n < 0) {
      err = (int)-n;
      break;
    }
    size_t off = 0;
    while (off + sizeof(struct nlmsghdr) <= (size_t)n) {
      struct nlmsghdr *h = (struct nlmsghdr *)(recv_buf + off);
      if (h->nlmsg_len < sizeof *h || off + h->nlmsg_len > (size_t)n) break;
      if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_len >= sizeof *h + sizeof(int32_t)) {
        seq_slot key = {.seq = h->nlmsg_seq};
        seq_slot *s = bsearch(&key, slots, count, sizeof *slots, by_seq);
        if (s != NULL && !done[s->index]) {
          done[s->index] = 1;
          errors[s->index] = -*(int32_t *)NLMSG_DATA(h);
          left--;
        }
      }
      off += NLMSG_ALIGN(h->nlmsg_len);
    }
  }
  free(slots);
  free(done);
  if (left > 0) {
    char what[64];
    snprintf(what, sizeof what, "%zu of %zu answers", left, count);
    throw_errno(env, "recv", what, -1, err != 0 ? err : ETIMEDOUT);
    return NULL;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// dump(fd, data, seq, timeoutMs) → Buffer[]
// Sends a dump request and returns the datagrams of its answer, up to and including the one with
// NLMSG_DONE (or NLMSG_ERROR) for `seq`.

static napi_value Dump(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  int32_t fd, timeout;
  uint32_t seq;
  if (!get_int(env, argv[0], &fd, "fd")) return NULL;
  void *data;
  size_t length;
  if (!get_buffer(env, argv[1], &data, &length)) return NULL;
  if (napi_get_value_uint32(env, argv[2], &seq) != napi_ok) {
    throw_type(env, "seq must be a number");
    return NULL;
  }
  if (!get_int(env, argv[3], &timeout, "timeoutMs")) return NULL;
  if (!ensure_buf(env)) return NULL;
  int err = send_all(fd, data, length);
  if (err != 0) {
    throw_errno(env, "send", "netlink dump", -1, err);
    return NULL;
  }
  napi_value list;
  napi_create_array(env, &list);
  uint32_t items = 0;
  double deadline = now_ms() + timeout;
  for (bool finished = false; !finished;) {
    ssize_t n = recv_one(fd);
    if (n == -1) {
      err = wait_readable(fd, deadline);
      if (err != 0) {
        throw_errno(env, "recv", "netlink dump", -1, err);
        return NULL;
      }
      continue;
    }
    if (n < 0) {
      throw_errno(env, "recv", "netlink dump", -1, (int)-n);
      return NULL;
    }
    bool ours = false;
    size_t off = 0;
    while (off + sizeof(struct nlmsghdr) <= (size_t)n) {
      struct nlmsghdr *h = (struct nlmsghdr *)(recv_buf + off);
      if (h->nlmsg_len < sizeof *h || off + h->nlmsg_len > (size_t)n) break;
      if (h->nlmsg_seq == seq) {
        ours = true;
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) finished = true;
      }
      off += NLMSG_ALIGN(h->nlmsg_len);
    }
    if (!ours) continue;
    napi_value b;
    napi_create_buffer_copy(env, (size_t)n, recv_buf, NULL, &b);
    napi_set_element(env, list, items++, b);
  }
  return list;
}

// ---------------------------------------------------------------------------------------------
// drain(fd) → { datagrams: Buffer[], overrun: boolean }
// Every datagram queued now, without waiting. `overrun`: the kernel dropped some (ENOBUFS).

static napi_value Drain(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t fd;
  if (!get_int(env, argv[0], &fd, "fd")) return NULL;
  if (!ensure_buf(env)) return NULL;
  napi_value list;
  napi_create_array(env, &list);
  uint32_t items = 0;
  bool overrun = false;
  for (;;) {
    ssize_t n = recv_one(fd);
    if (n == -1) break;
    if (n == -ENOBUFS) {
      overrun = true;
      continue;
    }
    if (n < 0) {
      throw_errno(env, "recv", "netlink events", -1, (int)-n);
      return NULL;
    }
    napi_value b;
    napi_create_buffer_copy(env, (size_t)n, recv_buf, NULL, &b);
    napi_set_element(env, list, items++, b);
  }
  napi_value out, v;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "datagrams", list);
  napi_get_boolean(env, overrun, &v);
  napi_set_named_property(env, out, "overrun", v);
  return out;
}

// ---------------------------------------------------------------------------------------------
// watch(fd, callback) → handle; unwatch(handle)
// Calls `callback()` on the event loop whenever fd is readable (the callback drains it).

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  bool closed;
} watcher;

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)status;
  (void)events;
  watcher *w = handle->data;
  if (w->closed) return;
  napi_handle_scope scope;
  napi_open_handle_scope(w->env, &scope);
  napi_value cb, recv, result;
  napi_get_reference_value(w->env, w->callback, &cb);
  napi_get_global(w->env, &recv);  // make_callback needs an object as `this`
  // make_callback runs the microtasks queued by the callback, as Node does for its own I/O.
  napi_make_callback(w->env, w->context, recv, cb, 0, NULL, &result);
  napi_close_handle_scope(w->env, scope);
}

static void free_watcher(uv_handle_t *handle) { free(handle->data); }

static napi_value Watch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int32_t fd;
  if (!get_int(env, argv[0], &fd, "fd")) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) {
    throw_type(env, "callback must be a function");
    return NULL;
  }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
  watcher *w = calloc(1, sizeof *w);
  if (w == NULL) {
    throw_errno(env, "malloc", "watcher", -1, ENOMEM);
    return NULL;
  }
  w->env = env;
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r != 0) {
    free(w);
    throw_errno(env, "uv_poll_init", "netlink socket", -1, -r);
    return NULL;
  }
  w->poll.data = w;
  napi_create_reference(env, argv[1], 1, &w->callback);
  napi_value name;
  napi_create_string_utf8(env, "flowmig:netlink", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->context);
  uv_poll_start(&w->poll, UV_READABLE, on_readable);
  napi_value handle;
  napi_create_external(env, w, NULL, NULL, &handle);
  return handle;
}

static napi_value Unwatch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  void *p;
  if (napi_get_value_external(env, argv[0], &p) != napi_ok || p == NULL) {
    throw_type(env, "handle must come from watch()");
    return NULL;
  }
  watcher *w = p;
  if (w->closed) return NULL;
  w->closed = true;
  uv_poll_stop(&w->poll);
  napi_delete_reference(env, w->callback);
  napi_async_destroy(env, w->context);
  uv_close((uv_handle_t *)&w->poll, free_watcher);
  return NULL;
}

// ---------------------------------------------------------------------------------------------
// ref(handle, on): whether a watcher keeps the event loop alive.

static napi_value Ref(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  void *p;
  bool on;
  if (napi_get_value_external(env, argv[0], &p) != napi_ok || p == NULL ||
      napi_get_value_bool(env, argv[1], &on) != napi_ok) {
    throw_type(env, "ref(handle, boolean)");
    return NULL;
  }
  watcher *w = p;
  if (w->closed) return NULL;
  if (on)
    uv_ref((uv_handle_t *)&w->poll);
  else
    uv_unref((uv_handle_t *)&w->poll);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, Open, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_default, NULL},
      {"transact", NULL, Transact, NULL, NULL, NULL, napi_default, NULL},
      {"dump", NULL, Dump, NULL, NULL, NULL, napi_default, NULL},
      {"drain", NULL, Drain, NULL, NULL, NULL, napi_default, NULL},
      {"watch", NULL, Watch, NULL, NULL, NULL, napi_default, NULL},
      {"unwatch", NULL, Unwatch, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, Ref, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
