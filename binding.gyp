{
  "targets": [
    {
      "target_name": "flowmig_tcp_repair",
      "sources": ["native/tcp_repair.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra"]
    },
    {
      "target_name": "flowmig_netlink",
      "sources": ["native/netlink.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra"]
    }
  ]
}
