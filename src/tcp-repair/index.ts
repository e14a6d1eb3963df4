// TCP repair: checkpoint an established TCP connection and rebuild it elsewhere (native addon).
export { cancelCheckpoint, checkpoint, type RestoreOptions, restore } from './checkpoint.js';
export {
  type NativeError,
  nativeAddon,
  type TcpInfo,
  type TcpRepairAddon,
  tcpRepairUnavailable,
} from './native.js';
export { socketFd, socketFromFd } from './socket-fd.js';
export type { Endpoint, RepairWindow, RestoredSocket, TcpSocketState } from './types.js';
