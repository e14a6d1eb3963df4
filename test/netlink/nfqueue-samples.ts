// nfnetlink_queue traffic captured from a real queue (kernel 6.18, ip6tables v1.8.9 nf_tables): in
// a scratch namespace with `ip6tables -t raw -A OUTPUT -p udp --dport 9 -j NFQUEUE --queue-num
// 7710`, a netlink socket sent the four requests below (bind, params, verdict, unbind; seq 1 to 4)
// while one UDP datagram went from [::1]:40000 to [::1]:9, and read what the kernel answered.

/** bindRequest(7710, 1) */
export const BIND_7710_SEQ1 = '1c00000002030500010000000000000000001e1e0800010001000000';
/** paramsRequest(7710, 2, 16384): copy meta only, queue length 16384 */
export const PARAMS_7710_SEQ2 =
  '2800000002030500020000000000000000001e1e0900020000000000010000000800030000004000';
/** acceptUpTo(7710, 1, 3): a batch verdict, no acknowledgement asked */
export const ACCEPT_UP_TO_1_SEQ3 =
  '2000000003030100030000000000000000001e1e0c0002000000000100000001';
/** unbindRequest(7710, 4) */
export const UNBIND_7710_SEQ4 = '1c00000002030500040000000000000000001e1e0800010002000000';

/**
 * The kernel's acknowledgements (NLMSG_ERROR, errno 0, NLM_F_CAPPED: the request's header only)
 * of the bind, params and unbind requests, in that order; the verdict asked for none.
 */
export const ACKS = [
  '240000000200000101000000a7290008000000001c000000020305000100000000000000',
  '240000000200000102000000a72900080000000028000000020305000200000000000000',
  '240000000200000104000000a7290008000000001c000000020305000400000000000000',
] as const;

/**
 * The queued datagram (NFQNL_MSG_PACKET, AF_INET6, res_id 7710): NFQA_PACKET_HDR (id 1, hw
 * protocol 0x86dd, hook 3 = local out), NFQA_IFINDEX_OUTDEV 1 (lo), NFQA_SKB_INFO 1 (checksum
 * not ready); no payload (metadata only).
 */
export const PACKET_ID_1 =
  '300000000003000000000000000000000a001e1e0b0001000000000186dd0300080006000000000108000e0000000001';
