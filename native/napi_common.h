// Helpers shared by flowmig's N-API addons (tcp_repair.c, netlink.c): errors that name the call
// and errno, and argument checks. Each addon is one translation unit, so these are static.
#ifndef FLOWMIG_NAPI_COMMON_H
#define FLOWMIG_NAPI_COMMON_H
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

// ---------------------------------------------------------------------------------------------
// Errors: every failure becomes a JS Error "call(what) on fd N: strerror (ENAME)" with `code`
// (the errno name), `errno`, `syscall` and `reason` ("strerror (ENAME)") for callers that
// build their own message.

static inline void throw_errno(napi_env env, const char *call, const char *what, int fd, int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
  const char *name = strerrorname_np(err);
#else
  const char *name = NULL;  // other C libraries: the number only
#endif
  char ename[32];
  if (name == NULL) {
    snprintf(ename, sizeof ename, "E%d", err);
    name = ename;
  }
  char reason[160];
  snprintf(reason, sizeof reason, "%s (%s)", strerror(err), name);
  char on[24] = "";
  if (fd >= 0) snprintf(on, sizeof on, " on fd %d", fd);
  char message[400];
  snprintf(message, sizeof message, "%s(%s)%s: %s", call, what != NULL ? what : "", on, reason);

  napi_value msg, error, value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "code", value);
  napi_create_int32(env, err, &value);
  napi_set_named_property(env, error, "errno", value);
  napi_create_string_utf8(env, call, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "syscall", value);
  napi_create_string_utf8(env, reason, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "reason", value);
  napi_throw(env, error);
}

static inline void throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
}

// ---------------------------------------------------------------------------------------------
// Argument helpers. Each returns false after throwing a TypeError.

static inline bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc < want) {
    throw_type(env, "too few arguments");
    return false;
  }
  return true;
}

#endif
