// flowmig's TCP repair addon: thin N-API wrappers around the socket calls that checkpoint and
// restore an established TCP connection (TCP_REPAIR). One function per kernel call, marshalling
// only; the order of the calls and every decision live in src/tcp-repair/*.ts.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include "napi_common.h"

static bool get_fd(napi_env env, napi_value value, int *fd) {
  int32_t v;
  if (napi_get_value_int32(env, value, &v) != napi_ok || v < 0) {
    throw_type(env, "fd must be a non-negative integer");
    return false;
  }
  *fd = v;
  return true;
}

// A 32-bit option value: accepts -2^31..2^32-1, so both -1 (TCP_REPAIR_OFF_NO_WP) and unsigned
// sequence numbers pass; the kernel reads the same 32 bits either way.
static bool get_u32_bits(napi_env env, napi_value value, uint32_t *out) {
  int64_t v;
  if (napi_get_value_int64(env, value, &v) != napi_ok || v < INT32_MIN || v > UINT32_MAX) {
    throw_type(env, "value must be a 32-bit integer");
    return false;
  }
  *out = (uint32_t)v;
  return true;
}

static bool get_string(napi_env env, napi_value value, char *buf, size_t size) {
  size_t len;
  if (napi_get_value_string_utf8(env, value, buf, size, &len) != napi_ok || len + 1 >= size) {
    throw_type(env, "expected a short string");
    return false;
  }
  return true;
}

static bool get_property_u32(napi_env env, napi_value object, const char *key, uint32_t *out) {
  napi_value value;
  int64_t v;
  if (napi_get_named_property(env, object, key, &value) != napi_ok ||
      napi_get_value_int64(env, value, &v) != napi_ok || v < 0 || v > UINT32_MAX) {
    char message[96];
    snprintf(message, sizeof message, "%s must be an unsigned 32-bit integer", key);
    throw_type(env, message);
    return false;
  }
  *out = (uint32_t)v;
  return true;
}

static napi_value make_u32(napi_env env, uint32_t v) {
  napi_value out;
  napi_create_uint32(env, v, &out);
  return out;
}

static napi_value make_i32(napi_env env, int32_t v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

static void set_u32(napi_env env, napi_value object, const char *key, uint32_t v) {
  napi_set_named_property(env, object, key, make_u32(env, v));
}

static napi_value undefined(napi_env env) {
  napi_value out;
  napi_get_undefined(env, &out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Integer socket options, by name (so errors name them and TypeScript never sees magic numbers).

struct named {
  const char *name;
  int level;
  int value;
};

static const struct named OPTIONS[] = {
    {"TCP_REPAIR", SOL_TCP, TCP_REPAIR},
    {"TCP_REPAIR_QUEUE", SOL_TCP, TCP_REPAIR_QUEUE},
    {"TCP_QUEUE_SEQ", SOL_TCP, TCP_QUEUE_SEQ},
    {"TCP_TIMESTAMP", SOL_TCP, TCP_TIMESTAMP},
    {"TCP_MAXSEG", SOL_TCP, TCP_MAXSEG},
    {"TCP_NODELAY", SOL_TCP, TCP_NODELAY},
    {"SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR},
    {"SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE},
    {"SO_SNDBUF", SOL_SOCKET, SO_SNDBUF},
    {"SO_RCVBUF", SOL_SOCKET, SO_RCVBUF},
    {"SO_SNDBUFFORCE", SOL_SOCKET, SO_SNDBUFFORCE},
    {"SO_BUF_LOCK", SOL_SOCKET, SO_BUF_LOCK},
    {"SO_TYPE", SOL_SOCKET, SO_TYPE},
    {"SO_DOMAIN", SOL_SOCKET, SO_DOMAIN},
    {"SO_PROTOCOL", SOL_SOCKET, SO_PROTOCOL},
    {NULL, 0, 0},
};

static const struct named IOCTLS[] = {
    {"SIOCINQ", 0, SIOCINQ},
    {"SIOCOUTQ", 0, SIOCOUTQ},
    {"SIOCOUTQNSD", 0, SIOCOUTQNSD},
    {NULL, 0, 0},
};

static const struct named *lookup(napi_env env, const struct named *table, napi_value value,
                                  char *name, size_t size) {
  if (!get_string(env, value, name, size)) return NULL;
  for (const struct named *n = table; n->name != NULL; n++)
    if (strcmp(n->name, name) == 0) return n;
  char message[96];
  snprintf(message, sizeof message, "unknown name %s", name);
  throw_type(env, message);
  return NULL;
}

// setsockoptInt(fd, name, value): setsockopt with a 32-bit int.
static napi_value SetsockoptInt(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  char name[32];
  uint32_t bits;
  if (!get_args(env, info, 3, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  const struct named *opt = lookup(env, OPTIONS, argv[1], name, sizeof name);
  if (opt == NULL || !get_u32_bits(env, argv[2], &bits)) return NULL;
  int value = (int)bits;
  if (setsockopt(fd, opt->level, opt->value, &value, sizeof value) != 0)
    throw_errno(env, "setsockopt", opt->name, fd, errno);
  return undefined(env);
}

// getsockoptInt(fd, name): a 32-bit int option, as a signed number (the caller applies `>>> 0`
// to the unsigned ones: TCP_QUEUE_SEQ, TCP_TIMESTAMP).
static napi_value GetsockoptInt(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  char name[32];
  if (!get_args(env, info, 2, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  const struct named *opt = lookup(env, OPTIONS, argv[1], name, sizeof name);
  if (opt == NULL) return NULL;
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, opt->level, opt->value, &value, &len) != 0) {
    throw_errno(env, "getsockopt", opt->name, fd, errno);
    return NULL;
  }
  return make_i32(env, value);
}

// ioctlInt(fd, 'SIOCINQ' | 'SIOCOUTQ' | 'SIOCOUTQNSD'): a queue size in bytes.
static napi_value IoctlInt(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  char name[32];
  if (!get_args(env, info, 2, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  const struct named *req = lookup(env, IOCTLS, argv[1], name, sizeof name);
  if (req == NULL) return NULL;
  int value = 0;
  if (ioctl(fd, (unsigned long)req->value, &value) != 0) {
    throw_errno(env, "ioctl", req->name, fd, errno);
    return NULL;
  }
  return make_i32(env, value);
}

// ---------------------------------------------------------------------------------------------
// Structured TCP options.

// setRepairOptions(fd, [{ code, value }]): TCP_REPAIR_OPTIONS, an array of struct tcp_repair_opt.
static napi_value SetRepairOptions(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  uint32_t count;
  if (!get_args(env, info, 2, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  if (napi_get_array_length(env, argv[1], &count) != napi_ok || count > 16) {
    throw_type(env, "options must be an array of at most 16 { code, value }");
    return NULL;
  }
  struct tcp_repair_opt opts[16];
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    if (napi_get_element(env, argv[1], i, &item) != napi_ok ||
        !get_property_u32(env, item, "code", &opts[i].opt_code) ||
        !get_property_u32(env, item, "value", &opts[i].opt_val))
      return NULL;
  }
  if (setsockopt(fd, SOL_TCP, TCP_REPAIR_OPTIONS, opts, count * sizeof opts[0]) != 0)
    throw_errno(env, "setsockopt", "TCP_REPAIR_OPTIONS", fd, errno);
  return undefined(env);
}

// getRepairWindow(fd): TCP_REPAIR_WINDOW (repair mode only).
static napi_value GetRepairWindow(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  struct tcp_repair_window w;
  socklen_t len = sizeof w;
  if (getsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, &w, &len) != 0) {
    throw_errno(env, "getsockopt", "TCP_REPAIR_WINDOW", fd, errno);
    return NULL;
  }
  napi_value out;
  napi_create_object(env, &out);
  set_u32(env, out, "sndWl1", w.snd_wl1);
  set_u32(env, out, "sndWnd", w.snd_wnd);
  set_u32(env, out, "maxWindow", w.max_window);
  set_u32(env, out, "rcvWnd", w.rcv_wnd);
  set_u32(env, out, "rcvWup", w.rcv_wup);
  return out;
}

// setRepairWindow(fd, { sndWl1, sndWnd, maxWindow, rcvWnd, rcvWup }).
static napi_value SetRepairWindow(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  struct tcp_repair_window w;
  if (!get_args(env, info, 2, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  if (!get_property_u32(env, argv[1], "sndWl1", &w.snd_wl1) ||
      !get_property_u32(env, argv[1], "sndWnd", &w.snd_wnd) ||
      !get_property_u32(env, argv[1], "maxWindow", &w.max_window) ||
      !get_property_u32(env, argv[1], "rcvWnd", &w.rcv_wnd) ||
      !get_property_u32(env, argv[1], "rcvWup", &w.rcv_wup))
    return NULL;
  if (setsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, &w, sizeof w) != 0)
    throw_errno(env, "setsockopt", "TCP_REPAIR_WINDOW", fd, errno);
  return undefined(env);
}

// tcpInfo(fd): the TCP_INFO fields checkpoint and the tests use.
static napi_value TcpInfo(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  struct tcp_info ti;
  memset(&ti, 0, sizeof ti);
  socklen_t len = sizeof ti;
  if (getsockopt(fd, SOL_TCP, TCP_INFO, &ti, &len) != 0) {
    throw_errno(env, "getsockopt", "TCP_INFO", fd, errno);
    return NULL;
  }
  napi_value out;
  napi_create_object(env, &out);
  set_u32(env, out, "state", ti.tcpi_state);
  set_u32(env, out, "options", ti.tcpi_options);
  set_u32(env, out, "sndWscale", ti.tcpi_snd_wscale);
  set_u32(env, out, "rcvWscale", ti.tcpi_rcv_wscale);
  set_u32(env, out, "sndMss", ti.tcpi_snd_mss);
  set_u32(env, out, "rcvMss", ti.tcpi_rcv_mss);
  set_u32(env, out, "unacked", ti.tcpi_unacked);
  set_u32(env, out, "retrans", ti.tcpi_retrans);
  set_u32(env, out, "totalRetrans", ti.tcpi_total_retrans);
  set_u32(env, out, "rtt", ti.tcpi_rtt);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Data.

// peek(fd, length): recv(MSG_PEEK | MSG_DONTWAIT) into a new Buffer of at most `length` bytes. In
// repair mode this reads the queue chosen with TCP_REPAIR_QUEUE without consuming it.
static napi_value Peek(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  uint32_t length;
  if (!get_args(env, info, 2, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  if (napi_get_value_uint32(env, argv[1], &length) != napi_ok || length > (1u << 30)) {
    throw_type(env, "length must be an integer up to 2^30");
    return NULL;
  }
  char *data = malloc(length > 0 ? length : 1);
  if (data == NULL) {
    throw_errno(env, "recv", "MSG_PEEK", fd, ENOMEM);
    return NULL;
  }
  ssize_t n;
  do n = recv(fd, data, length, MSG_PEEK | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    int err = errno;
    free(data);
    throw_errno(env, "recv", "MSG_PEEK", fd, err);
    return NULL;
  }
  napi_value out;
  napi_status status = napi_create_buffer_copy(env, (size_t)n, data, NULL, &out);
  free(data);
  return status == napi_ok ? out : NULL;
}

// sendAll(fd, buffer): send(MSG_DONTWAIT | MSG_NOSIGNAL) until all is written or the kernel has no
// more room (EAGAIN); returns the bytes written. Never blocks: in repair mode nothing would ever
// free room in the send queue.
static napi_value SendAll(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  void *data;
  size_t length;
  if (!get_args(env, info, 2, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  if (napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) {
    throw_type(env, "data must be a Buffer");
    return NULL;
  }
  size_t done = 0;
  while (done < length) {
    ssize_t n = send(fd, (char *)data + done, length - done, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) {
      throw_errno(env, "send", NULL, fd, errno);
      return NULL;
    }
    if (n == 0) break;
    done += (size_t)n;
  }
  napi_value out;
  napi_create_double(env, (double)done, &out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Socket life cycle and addresses (IPv6 only: flowmig's labs are IPv6; IPv4 peers appear as
// ::ffff:a.b.c.d on an IPv6 socket).

// socket(): a new blocking, close-on-exec AF_INET6 stream socket.
static napi_value Socket(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) {
    throw_errno(env, "socket", "AF_INET6, SOCK_STREAM", -1, errno);
    return NULL;
  }
  return make_i32(env, fd);
}

// close(fd).
static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  // Linux releases the descriptor even when close() reports EINTR: never retry.
  if (close(fd) != 0 && errno != EINTR) throw_errno(env, "close", NULL, fd, errno);
  return undefined(env);
}

// setNonBlocking(fd, on): O_NONBLOCK on or off (fcntl F_GETFL, F_SETFL).
static napi_value SetNonBlocking(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  bool on;
  if (!get_args(env, info, 2, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  if (napi_get_value_bool(env, argv[1], &on) != napi_ok) {
    throw_type(env, "on must be a boolean");
    return NULL;
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) {
    throw_errno(env, "fcntl", "F_GETFL", fd, errno);
    return NULL;
  }
  flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (fcntl(fd, F_SETFL, flags) != 0) throw_errno(env, "fcntl", "F_SETFL O_NONBLOCK", fd, errno);
  return undefined(env);
}

static bool get_sockaddr(napi_env env, napi_value address, napi_value port,
                         struct sockaddr_in6 *sa, char *text, size_t size) {
  uint32_t p;
  if (!get_string(env, address, text, size)) return false;
  if (napi_get_value_uint32(env, port, &p) != napi_ok || p > 65535) {
    throw_type(env, "port must be an integer 0..65535");
    return false;
  }
  memset(sa, 0, sizeof *sa);
  sa->sin6_family = AF_INET6;
  sa->sin6_port = htons((uint16_t)p);
  if (inet_pton(AF_INET6, text, &sa->sin6_addr) != 1) {
    char message[96];
    snprintf(message, sizeof message, "not an IPv6 address: %s", text);
    throw_type(env, message);
    return false;
  }
  snprintf(text + strlen(text), size - strlen(text), " port %u", p);
  return true;
}

// bind(fd, address, port).
static napi_value Bind(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  struct sockaddr_in6 sa;
  char what[INET6_ADDRSTRLEN + 16];
  if (!get_args(env, info, 3, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  if (!get_sockaddr(env, argv[1], argv[2], &sa, what, sizeof what)) return NULL;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) throw_errno(env, "bind", what, fd, errno);
  return undefined(env);
}

// connect(fd, address, port). In repair mode no SYN is sent: the socket becomes ESTABLISHED.
static napi_value Connect(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  struct sockaddr_in6 sa;
  char what[INET6_ADDRSTRLEN + 16];
  if (!get_args(env, info, 3, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  if (!get_sockaddr(env, argv[1], argv[2], &sa, what, sizeof what)) return NULL;
  int r;
  do r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  while (r != 0 && errno == EINTR);
  if (r != 0) throw_errno(env, "connect", what, fd, errno);
  return undefined(env);
}

static napi_value make_endpoint(napi_env env, const struct sockaddr_storage *ss) {
  char text[INET6_ADDRSTRLEN];
  unsigned port;
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &sa->sin6_addr, text, sizeof text);
    port = ntohs(sa->sin6_port);
  } else if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *sa = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &sa->sin_addr, text, sizeof text);
    port = ntohs(sa->sin_port);
  } else {
    snprintf(text, sizeof text, "(address family %d)", ss->ss_family);
    port = 0;
  }
  napi_value out, value;
  napi_create_object(env, &out);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, out, "address", value);
  set_u32(env, out, "port", port);
  return out;
}

// getsockname(fd): { address, port }.
static napi_value Getsockname(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
    throw_errno(env, "getsockname", NULL, fd, errno);
    return NULL;
  }
  return make_endpoint(env, &ss);
}

// getpeername(fd): { address, port }.
static napi_value Getpeername(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0) {
    throw_errno(env, "getpeername", NULL, fd, errno);
    return NULL;
  }
  return make_endpoint(env, &ss);
}

// ---------------------------------------------------------------------------------------------

static napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor functions[] = {
      {"socket", NULL, Socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setNonBlocking", NULL, SetNonBlocking, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bind", NULL, Bind, NULL, NULL, NULL, napi_enumerable, NULL},
      {"connect", NULL, Connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getsockname", NULL, Getsockname, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getpeername", NULL, Getpeername, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setsockoptInt", NULL, SetsockoptInt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getsockoptInt", NULL, GetsockoptInt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ioctlInt", NULL, IoctlInt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setRepairOptions", NULL, SetRepairOptions, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getRepairWindow", NULL, GetRepairWindow, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setRepairWindow", NULL, SetRepairWindow, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tcpInfo", NULL, TcpInfo, NULL, NULL, NULL, napi_enumerable, NULL},
      {"peek", NULL, Peek, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendAll", NULL, SendAll, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}

NAPI_MODULE_INIT() { return Init(env, exports); }
