// `nft -j list table` output of the flowmig, flowmig_late and flowmig_hold tables (and the hold
// queue's `ip6tables-save`) captured from real runs (nftables v1.0.6, kernel 6.18): the engines'
// operations applied in a scratch namespace. M1, M2 and M3 are fe00::1 (fc00::1 → fc01::1),
// fe00::2 (fc00::1 → fc02::2) and fe00::1:0 (fc03::1 → fc01::1). The flowmig table is the one
// with two maps (dnat_to, dnat_back) and the single `ct status dnat snat to ct original ip6
// daddr` rule. The late rule gained `meta l4proto != tcp` after these were captured; its first
// expression was added to them exactly as nft 1.0.6 prints it (`{"match": {"op": "!=", "left":
// {"meta": {"key": "l4proto"}}, "right": "tcp"}}`, read back from a real lab). The late table's
// second chain (`late_tracked`, priority mangle, and its rule) came later still and was added to
// the late captures the same way, as nft 1.0.6 lists it in a real lab (counter 0).

/** After `nftablesEngine.install(ns, [M1, M2, M3])`. */
export const NFT_JSON_THREE_FLOWS =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "ip6", "name": "flowmig", "handle": 2}}, {"map": {"family": "ip6", "name": "dnat_to", "table": "flowmig", "type": ["ipv6_addr", "ipv6_addr"], "handle": 3, "map": "ipv6_addr", "elem": [[{"concat": ["fc03::1", "fe00::1:0"]}, "fc01::1"], [{"concat": ["fc00::1", "fe00::1"]}, "fc01::1"], [{"concat": ["fc00::1", "fe00::2"]}, "fc02::2"]]}}, {"map": {"family": "ip6", "name": "dnat_back", "table": "flowmig", "type": ["ipv6_addr", "ipv6_addr"], "handle": 4, "map": "ipv6_addr", "elem": [[{"concat": ["fc01::1", "fe00::1:0"]}, "fc03::1"], [{"concat": ["fc01::1", "fe00::1"]}, "fc00::1"], [{"concat": ["fc02::2", "fe00::2"]}, "fc00::1"]]}}, {"chain": {"family": "ip6", "table": "flowmig", "name": "prerouting", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}, {"chain": {"family": "ip6", "table": "flowmig", "name": "postrouting", "handle": 2, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"rule": {"family": "ip6", "table": "flowmig", "chain": "prerouting", "handle": 5, "expr": [{"dnat": {"addr": {"map": {"key": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "data": "@dnat_to"}}}}]}}, {"rule": {"family": "ip6", "table": "flowmig", "chain": "prerouting", "handle": 6, "expr": [{"dnat": {"addr": {"map": {"key": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "data": "@dnat_back"}}}}]}}, {"rule": {"family": "ip6", "table": "flowmig", "chain": "postrouting", "handle": 7, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}, {"snat": {"addr": {"ct": {"key": "ip6 daddr", "dir": "original"}}}}]}}]}';

/**
 * The table of NFT_JSON_THREE_FLOWS after the update script for: fe00::1 moved to fc02::2,
 * fe00::2's initiator changed to fc03::1, fe00::1:0 removed, fe00::3 (fc00::1 → fc01::1) added.
 */
export const NFT_JSON_AFTER_UPDATE =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "ip6", "name": "flowmig", "handle": 2}}, {"map": {"family": "ip6", "name": "dnat_to", "table": "flowmig", "type": ["ipv6_addr", "ipv6_addr"], "handle": 3, "map": "ipv6_addr", "elem": [[{"concat": ["fc00::1", "fe00::1"]}, "fc02::2"], [{"concat": ["fc03::1", "fe00::2"]}, "fc02::2"], [{"concat": ["fc00::1", "fe00::3"]}, "fc01::1"]]}}, {"map": {"family": "ip6", "name": "dnat_back", "table": "flowmig", "type": ["ipv6_addr", "ipv6_addr"], "handle": 4, "map": "ipv6_addr", "elem": [[{"concat": ["fc02::2", "fe00::1"]}, "fc00::1"], [{"concat": ["fc02::2", "fe00::2"]}, "fc03::1"], [{"concat": ["fc01::1", "fe00::3"]}, "fc00::1"]]}}, {"chain": {"family": "ip6", "table": "flowmig", "name": "prerouting", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}, {"chain": {"family": "ip6", "table": "flowmig", "name": "postrouting", "handle": 2, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"rule": {"family": "ip6", "table": "flowmig", "chain": "prerouting", "handle": 5, "expr": [{"dnat": {"addr": {"map": {"key": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "data": "@dnat_to"}}}}]}}, {"rule": {"family": "ip6", "table": "flowmig", "chain": "prerouting", "handle": 6, "expr": [{"dnat": {"addr": {"map": {"key": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "data": "@dnat_back"}}}}]}}, {"rule": {"family": "ip6", "table": "flowmig", "chain": "postrouting", "handle": 7, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}, {"snat": {"addr": {"ct": {"key": "ip6 daddr", "dir": "original"}}}}]}}]}';

/** After the install script with no mappings: the maps carry no `elem` at all. */
export const NFT_JSON_EMPTY =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "ip6", "name": "flowmig", "handle": 1}}, {"map": {"family": "ip6", "name": "dnat_to", "table": "flowmig", "type": ["ipv6_addr", "ipv6_addr"], "handle": 3, "map": "ipv6_addr"}}, {"map": {"family": "ip6", "name": "dnat_back", "table": "flowmig", "type": ["ipv6_addr", "ipv6_addr"], "handle": 4, "map": "ipv6_addr"}}, {"chain": {"family": "ip6", "table": "flowmig", "name": "prerouting", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}, {"chain": {"family": "ip6", "table": "flowmig", "name": "postrouting", "handle": 2, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"rule": {"family": "ip6", "table": "flowmig", "chain": "prerouting", "handle": 5, "expr": [{"dnat": {"addr": {"map": {"key": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "data": "@dnat_to"}}}}]}}, {"rule": {"family": "ip6", "table": "flowmig", "chain": "prerouting", "handle": 6, "expr": [{"dnat": {"addr": {"map": {"key": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "data": "@dnat_back"}}}}]}}, {"rule": {"family": "ip6", "table": "flowmig", "chain": "postrouting", "handle": 7, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}, {"snat": {"addr": {"ct": {"key": "ip6 daddr", "dir": "original"}}}}]}}]}';

/** NFT_JSON_THREE_FLOWS after `nft delete chain ip6 flowmig postrouting`: maps intact, no SNAT hook. */
export const NFT_JSON_NO_POSTROUTING =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "ip6", "name": "flowmig", "handle": 3}}, {"map": {"family": "ip6", "name": "dnat_to", "table": "flowmig", "type": ["ipv6_addr", "ipv6_addr"], "handle": 3, "map": "ipv6_addr", "elem": [[{"concat": ["fc03::1", "fe00::1:0"]}, "fc01::1"], [{"concat": ["fc00::1", "fe00::1"]}, "fc01::1"], [{"concat": ["fc00::1", "fe00::2"]}, "fc02::2"]]}}, {"map": {"family": "ip6", "name": "dnat_back", "table": "flowmig", "type": ["ipv6_addr", "ipv6_addr"], "handle": 4, "map": "ipv6_addr", "elem": [[{"concat": ["fc01::1", "fe00::1:0"]}, "fc03::1"], [{"concat": ["fc01::1", "fe00::1"]}, "fc00::1"], [{"concat": ["fc02::2", "fe00::2"]}, "fc00::1"]]}}, {"chain": {"family": "ip6", "table": "flowmig", "name": "prerouting", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}, {"rule": {"family": "ip6", "table": "flowmig", "chain": "prerouting", "handle": 5, "expr": [{"dnat": {"addr": {"map": {"key": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "data": "@dnat_to"}}}}]}}, {"rule": {"family": "ip6", "table": "flowmig", "chain": "prerouting", "handle": 6, "expr": [{"dnat": {"addr": {"map": {"key": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "data": "@dnat_back"}}}}]}}]}';

/**
 * After `nftablesEngine.install(ns, [M1, M2, M3])` and then, by someone else,
 * `nft add rule ip6 flowmig prerouting ip6 saddr fc09::9 counter accept`: flowmig's three rules
 * and one foreign rule (handle 8) in its prerouting chain.
 */
export const NFT_JSON_FOREIGN_RULE =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "ip6", "name": "flowmig", "handle": 1}}, {"map": {"family": "ip6", "name": "dnat_to", "table": "flowmig", "type": ["ipv6_addr", "ipv6_addr"], "handle": 3, "map": "ipv6_addr", "elem": [[{"concat": ["fc03::1", "fe00::1:0"]}, "fc01::1"], [{"concat": ["fc00::1", "fe00::1"]}, "fc01::1"], [{"concat": ["fc00::1", "fe00::2"]}, "fc02::2"]]}}, {"map": {"family": "ip6", "name": "dnat_back", "table": "flowmig", "type": ["ipv6_addr", "ipv6_addr"], "handle": 4, "map": "ipv6_addr", "elem": [[{"concat": ["fc01::1", "fe00::1:0"]}, "fc03::1"], [{"concat": ["fc01::1", "fe00::1"]}, "fc00::1"], [{"concat": ["fc02::2", "fe00::2"]}, "fc00::1"]]}}, {"chain": {"family": "ip6", "table": "flowmig", "name": "prerouting", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}, {"chain": {"family": "ip6", "table": "flowmig", "name": "postrouting", "handle": 2, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"rule": {"family": "ip6", "table": "flowmig", "chain": "prerouting", "handle": 5, "expr": [{"dnat": {"addr": {"map": {"key": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "data": "@dnat_to"}}}}]}}, {"rule": {"family": "ip6", "table": "flowmig", "chain": "prerouting", "handle": 6, "expr": [{"dnat": {"addr": {"map": {"key": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "data": "@dnat_back"}}}}]}}, {"rule": {"family": "ip6", "table": "flowmig", "chain": "prerouting", "handle": 8, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}}, "right": "fc09::9"}}, {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}}, {"rule": {"family": "ip6", "table": "flowmig", "chain": "postrouting", "handle": 7, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}, {"snat": {"addr": {"ct": {"key": "ip6 daddr", "dir": "original"}}}}]}}]}';

/** `nft -j list ruleset` in a fresh namespace (no table): only the metainfo. */
export const NFT_JSON_NO_TABLE =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}]}';

/** After `lateTable.install(ns, [M1, M2, M3])`: three initiators, no former responder. */
export const LATE_JSON_INSTALLED =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "ip6", "name": "flowmig_late", "handle": 4}}, {"set": {"family": "ip6", "name": "late_from", "table": "flowmig_late", "type": ["ipv6_addr", "ipv6_addr"], "handle": 2, "flags": ["timeout"]}}, {"map": {"family": "ip6", "name": "initiator_of", "table": "flowmig_late", "type": "ipv6_addr", "handle": 3, "map": "ipv6_addr", "elem": [["fe00::1", "fc00::1"], ["fe00::2", "fc00::1"], ["fe00::1:0", "fc03::1"]]}}, {"chain": {"family": "ip6", "table": "flowmig_late", "name": "late", "handle": 1, "type": "filter", "hook": "prerouting", "prio": -300, "policy": "accept"}}, {"chain": {"family": "ip6", "table": "flowmig_late", "name": "late_tracked", "handle": 5, "type": "filter", "hook": "prerouting", "prio": -150, "policy": "accept"}}, {"rule": {"family": "ip6", "table": "flowmig_late", "chain": "late", "handle": 4, "expr": [{"match": {"op": "!=", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "right": "@late_from"}}, {"notrack": null}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "saddr"}}, "value": {"payload": {"protocol": "ip6", "field": "daddr"}}}}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "value": {"map": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "data": "@initiator_of"}}}}, {"counter": {"packets": 0, "bytes": 0}}]}}, {"rule": {"family": "ip6", "table": "flowmig_late", "chain": "late_tracked", "handle": 6, "expr": [{"match": {"op": "!=", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["invalid", "new"]}}, {"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "right": "@late_from"}}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "saddr"}}, "value": {"payload": {"protocol": "ip6", "field": "daddr"}}}}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "value": {"map": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "data": "@initiator_of"}}}}, {"counter": {"packets": 0, "bytes": 0}}]}}]}';

/**
 * After `lateTable.install(ns, [M1, M2, M3])` and then, by someone else,
 * `nft add rule ip6 flowmig_late late ip6 saddr fc09::9 counter drop`: flowmig's rule and a foreign
 * one (handle 5) in the late chain.
 */
export const LATE_JSON_FOREIGN_RULE =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "ip6", "name": "flowmig_late", "handle": 5}}, {"set": {"family": "ip6", "name": "late_from", "table": "flowmig_late", "type": ["ipv6_addr", "ipv6_addr"], "handle": 2, "flags": ["timeout"]}}, {"map": {"family": "ip6", "name": "initiator_of", "table": "flowmig_late", "type": "ipv6_addr", "handle": 3, "map": "ipv6_addr", "elem": [["fe00::1", "fc00::1"], ["fe00::2", "fc00::1"], ["fe00::1:0", "fc03::1"]]}}, {"chain": {"family": "ip6", "table": "flowmig_late", "name": "late", "handle": 1, "type": "filter", "hook": "prerouting", "prio": -300, "policy": "accept"}}, {"chain": {"family": "ip6", "table": "flowmig_late", "name": "late_tracked", "handle": 6, "type": "filter", "hook": "prerouting", "prio": -150, "policy": "accept"}}, {"rule": {"family": "ip6", "table": "flowmig_late", "chain": "late", "handle": 4, "expr": [{"match": {"op": "!=", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "right": "@late_from"}}, {"notrack": null}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "saddr"}}, "value": {"payload": {"protocol": "ip6", "field": "daddr"}}}}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "value": {"map": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "data": "@initiator_of"}}}}, {"counter": {"packets": 0, "bytes": 0}}]}}, {"rule": {"family": "ip6", "table": "flowmig_late", "chain": "late", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}}, "right": "fc09::9"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}, {"rule": {"family": "ip6", "table": "flowmig_late", "chain": "late_tracked", "handle": 7, "expr": [{"match": {"op": "!=", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["invalid", "new"]}}, {"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "right": "@late_from"}}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "saddr"}}, "value": {"payload": {"protocol": "ip6", "field": "daddr"}}}}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "value": {"map": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "data": "@initiator_of"}}}}, {"counter": {"packets": 0, "bytes": 0}}]}}]}';

/**
 * LATE_JSON_INSTALLED after `lateTable.update` for M1 moving from fc01::1 to fc02::2 with a grace
 * of 60000 ms (joined with the engine's update, as a migration does), then 3 pings from fc01::1 to
 * fe00::1 looped through lo: the former responder's element (timeout 60 s, 58 s left) and the
 * rule's counter (3 packets).
 */
export const LATE_JSON_AFTER_SWAP =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "ip6", "name": "flowmig_late", "handle": 4}}, {"set": {"family": "ip6", "name": "late_from", "table": "flowmig_late", "type": ["ipv6_addr", "ipv6_addr"], "handle": 2, "flags": ["timeout"], "elem": [{"elem": {"val": {"concat": ["fc01::1", "fe00::1"]}, "timeout": 60, "expires": 58}}]}}, {"map": {"family": "ip6", "name": "initiator_of", "table": "flowmig_late", "type": "ipv6_addr", "handle": 3, "map": "ipv6_addr", "elem": [["fe00::1", "fc00::1"], ["fe00::2", "fc00::1"], ["fe00::1:0", "fc03::1"]]}}, {"chain": {"family": "ip6", "table": "flowmig_late", "name": "late", "handle": 1, "type": "filter", "hook": "prerouting", "prio": -300, "policy": "accept"}}, {"chain": {"family": "ip6", "table": "flowmig_late", "name": "late_tracked", "handle": 5, "type": "filter", "hook": "prerouting", "prio": -150, "policy": "accept"}}, {"rule": {"family": "ip6", "table": "flowmig_late", "chain": "late", "handle": 4, "expr": [{"match": {"op": "!=", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "right": "@late_from"}}, {"notrack": null}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "saddr"}}, "value": {"payload": {"protocol": "ip6", "field": "daddr"}}}}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "value": {"map": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "data": "@initiator_of"}}}}, {"counter": {"packets": 3, "bytes": 312}}]}}, {"rule": {"family": "ip6", "table": "flowmig_late", "chain": "late_tracked", "handle": 6, "expr": [{"match": {"op": "!=", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["invalid", "new"]}}, {"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "right": "@late_from"}}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "saddr"}}, "value": {"payload": {"protocol": "ip6", "field": "daddr"}}}}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "value": {"map": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "data": "@initiator_of"}}}}, {"counter": {"packets": 0, "bytes": 0}}]}}]}';

/**
 * LATE_JSON_AFTER_SWAP after `lateTable.update` for M1 moving back to fc01::1 within the grace
 * (60000 ms): fc02::2 is the former responder now, fc01::1 (absent) is gone.
 */
export const LATE_JSON_AFTER_SWAP_BACK =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "ip6", "name": "flowmig_late", "handle": 4}}, {"set": {"family": "ip6", "name": "late_from", "table": "flowmig_late", "type": ["ipv6_addr", "ipv6_addr"], "handle": 2, "flags": ["timeout"], "elem": [{"elem": {"val": {"concat": ["fc02::2", "fe00::1"]}, "timeout": 60, "expires": 59}}]}}, {"map": {"family": "ip6", "name": "initiator_of", "table": "flowmig_late", "type": "ipv6_addr", "handle": 3, "map": "ipv6_addr", "elem": [["fe00::1", "fc00::1"], ["fe00::2", "fc00::1"], ["fe00::1:0", "fc03::1"]]}}, {"chain": {"family": "ip6", "table": "flowmig_late", "name": "late", "handle": 1, "type": "filter", "hook": "prerouting", "prio": -300, "policy": "accept"}}, {"chain": {"family": "ip6", "table": "flowmig_late", "name": "late_tracked", "handle": 5, "type": "filter", "hook": "prerouting", "prio": -150, "policy": "accept"}}, {"rule": {"family": "ip6", "table": "flowmig_late", "chain": "late", "handle": 4, "expr": [{"match": {"op": "!=", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "right": "@late_from"}}, {"notrack": null}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "saddr"}}, "value": {"payload": {"protocol": "ip6", "field": "daddr"}}}}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "value": {"map": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "data": "@initiator_of"}}}}, {"counter": {"packets": 3, "bytes": 312}}]}}, {"rule": {"family": "ip6", "table": "flowmig_late", "chain": "late_tracked", "handle": 6, "expr": [{"match": {"op": "!=", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["invalid", "new"]}}, {"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "right": "@late_from"}}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "saddr"}}, "value": {"payload": {"protocol": "ip6", "field": "daddr"}}}}, {"mangle": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "value": {"map": {"key": {"payload": {"protocol": "ip6", "field": "daddr"}}, "data": "@initiator_of"}}}}, {"counter": {"packets": 0, "bytes": 0}}]}}]}';

/**
 * `nft -j list table ip6 flowmig_hold` after `holdTable.install` and `holdTable.set(ns, M1, true)`
 * (nftables v1.0.6, kernel 6.18): the held set with fc00::1 . fe00::1, both marking chains.
 */
export const HOLD_JSON_HELD =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "ip6", "name": "flowmig_hold", "handle": 1}}, {"set": {"family": "ip6", "name": "held", "table": "flowmig_hold", "type": ["ipv6_addr", "ipv6_addr"], "handle": 3, "elem": [{"concat": ["fc00::1", "fe00::1"]}]}}, {"chain": {"family": "ip6", "table": "flowmig_hold", "name": "hold_in", "handle": 1, "type": "filter", "hook": "prerouting", "prio": -310, "policy": "accept"}}, {"chain": {"family": "ip6", "table": "flowmig_hold", "name": "hold_back", "handle": 2, "type": "filter", "hook": "forward", "prio": -160, "policy": "accept"}}, {"rule": {"family": "ip6", "table": "flowmig_hold", "chain": "hold_in", "handle": 4, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip6", "field": "saddr"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "right": "@held"}}, {"mangle": {"key": {"meta": {"key": "mark"}}, "value": 1179451393}}]}}, {"rule": {"family": "ip6", "table": "flowmig_hold", "chain": "hold_back", "handle": 5, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip6", "field": "daddr"}}, {"ct": {"key": "ip6 daddr", "dir": "original"}}]}, "right": "@held"}}, {"mangle": {"key": {"meta": {"key": "mark"}}, "value": 1179451394}}]}}]}';

/** `ip6tables-save -t raw` (v1.8.9, nf_tables) after `holdTable.install`: the queueing rule. */
export const HOLD_RAW_SAVE = `# Generated by ip6tables-save v1.8.9 (nf_tables) on Mon Dec  7 10:17:00 2026
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -m mark --mark 0x464d0001 -m comment --comment flowmig-hold -j NFQUEUE --queue-num 7710
COMMIT
# Completed on Mon Dec  7 10:17:00 2026
`;

/** `ip6tables-save -t mangle` (v1.8.9, nf_tables) after `holdTable.install`: the queueing rule. */
export const HOLD_MANGLE_SAVE = `# Generated by ip6tables-save v1.8.9 (nf_tables) on Mon Dec  7 10:17:00 2026
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A FORWARD -m mark --mark 0x464d0002 -m comment --comment flowmig-hold -j NFQUEUE --queue-num 7710
COMMIT
# Completed on Mon Dec  7 10:17:00 2026
`;

/** A former responder as `nft -j` lists it: the set element's timeout and time left, in seconds. */
export interface LateElement {
  readonly responderAddress: string;
  readonly address: string;
  readonly timeout: number;
  readonly expires: number;
}

/**
 * What `nft -j list table ip6 flowmig_late` prints for the given initiators (abstract address,
 * initiator) and former responders, in the format of LATE_JSON_INSTALLED and LATE_JSON_AFTER_SWAP
 * (the handles of a table created first in its namespace).
 */
export function lateJson(
  initiators: readonly (readonly [string, string])[],
  former: readonly LateElement[],
  counter = { packets: 0, bytes: 0 },
  afterConntrack = { packets: 0, bytes: 0 },
): string {
  const set: Record<string, unknown> = {
    family: 'ip6',
    name: 'late_from',
    table: 'flowmig_late',
    type: ['ipv6_addr', 'ipv6_addr'],
    handle: 2,
    flags: ['timeout'],
  };
  if (former.length > 0)
    set.elem = former.map((f) => ({
      elem: {
        val: { concat: [f.responderAddress, f.address] },
        timeout: f.timeout,
        expires: f.expires,
      },
    }));
  const map: Record<string, unknown> = {
    family: 'ip6',
    name: 'initiator_of',
    table: 'flowmig_late',
    type: 'ipv6_addr',
    handle: 3,
    map: 'ipv6_addr',
  };
  if (initiators.length > 0) map.elem = initiators.map(([f, i]) => [f, i]);
  const ip6 = (field: string) => ({ payload: { protocol: 'ip6', field } });
  const doc = {
    nftables: [
      {
        metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 },
      },
      { table: { family: 'ip6', name: 'flowmig_late', handle: 4 } },
      { set },
      { map },
      {
        chain: {
          family: 'ip6',
          table: 'flowmig_late',
          name: 'late',
          handle: 1,
          type: 'filter',
          hook: 'prerouting',
          prio: -300,
          policy: 'accept',
        },
      },
      {
        chain: {
          family: 'ip6',
          table: 'flowmig_late',
          name: 'late_tracked',
          handle: 5,
          type: 'filter',
          hook: 'prerouting',
          prio: -150,
          policy: 'accept',
        },
      },
      {
        rule: {
          family: 'ip6',
          table: 'flowmig_late',
          chain: 'late',
          handle: 4,
          expr: [
            { match: { op: '!=', left: { meta: { key: 'l4proto' } }, right: 'tcp' } },
            {
              match: {
                op: '==',
                left: { concat: [ip6('saddr'), ip6('daddr')] },
                right: '@late_from',
              },
            },
            { notrack: null },
            { mangle: { key: ip6('saddr'), value: ip6('daddr') } },
            {
              mangle: {
                key: ip6('daddr'),
                value: { map: { key: ip6('daddr'), data: '@initiator_of' } },
              },
            },
            { counter },
          ],
        },
      },
      {
        rule: {
          family: 'ip6',
          table: 'flowmig_late',
          chain: 'late_tracked',
          handle: 6,
          expr: [
            { match: { op: '!=', left: { meta: { key: 'l4proto' } }, right: 'tcp' } },
            { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['invalid', 'new'] } },
            {
              match: {
                op: '==',
                left: { concat: [ip6('saddr'), ip6('daddr')] },
                right: '@late_from',
              },
            },
            { mangle: { key: ip6('saddr'), value: ip6('daddr') } },
            {
              mangle: {
                key: ip6('daddr'),
                value: { map: { key: ip6('daddr'), data: '@initiator_of' } },
              },
            },
            { counter: afterConntrack },
          ],
        },
      },
    ],
  };
  return nftStyle(doc);
}

/** JSON as nft prints it: one line, ", " between items and ": " after keys. */
function nftStyle(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(nftStyle).join(', ')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}: ${nftStyle(x)}`)
      .join(', ')}}`;
  return JSON.stringify(v);
}
