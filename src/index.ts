// flowmig's library API: the same verbs as the CLI, for people who build their own controller.
export { startDaemon } from './control/daemon-process.js';
export {
  type ChangeEvent,
  type DownResult,
  type EvacuationResult,
  Flowmig,
  type FlowmigOptions,
  type FlowStatus,
  type LabStatus,
  type MigrationResult,
  type NodeStatus,
  type ProgressHooks,
  type ReconcileResult,
} from './control/flowmig.js';
export type { LiveStep, LiveTcpResult } from './control/live-tcp.js';
export { type HostedLab, hostLab } from './daemon/host.js';
export { DaemonServer } from './daemon/server.js';
export { DaemonClient } from './daemon-api/client.js';
export type { DaemonReply, DaemonRequest, HelloReply, RequestBody } from './daemon-api/protocol.js';
export type {
  Engine,
  FlowChange,
  FlowMapping,
  KernelFlowTable,
  MapEdit,
} from './engines/engine.js';
export { type FakePacket, FakeTranslator, type Trace } from './engines/fake.js';
export { iptablesEngine } from './engines/iptables.js';
export { type FormerResponder, type LateState, lateTable } from './engines/late.js';
export { nftablesEngine } from './engines/nftables.js';
export { engineFor } from './engines/registry.js';
export { CommandError, FlowmigError, InputError } from './errors.js';
export { execute, type StepRecord } from './exec/execute.js';
export { RecordingRunner } from './exec/recording.js';
export { ProcessRunner, type Runner, type RunOptions, type RunResult } from './exec/runner.js';
export { analyzeRun } from './experiment/analyze.js';
export { clusterBed } from './experiment/cluster-bed.js';
export { type DemoOptions, type DemoResult, runDemo } from './experiment/demo.js';
export {
  type ExperimentInput,
  type ExperimentOptions,
  loadExperimentFile,
  parseExperiment,
} from './experiment/options.js';
export type { RunRecord } from './experiment/record.js';
export { runExperiment } from './experiment/run.js';
export {
  type SwapOutcome,
  singleHostBed,
  type Testbed,
  type TestbedLab,
} from './experiment/testbed.js';
export type { ClusterLab } from './lab/cluster-model.js';
export { resolveCluster } from './lab/cluster-resolve.js';
export { REFERENCE_LAB } from './lab/default.js';
export { loadLab } from './lab/load.js';
export type { Lab, LabFlow, LabLink, LabNode, LabRoute } from './lab/model.js';
export { type ResolveOptions, resolveLab } from './lab/resolve.js';
export type { EngineName, LabDescription, LabDescriptionInput, Role } from './lab/schema.js';
export { planUp } from './plan/build.js';
export { commandFor } from './plan/command.js';
export {
  type EvacuationPlan,
  type MigrationPlan,
  planEvacuation,
  planMigration,
  planSwap,
} from './plan/migrate.js';
export type { Op } from './plan/ops.js';
export { renderReport, renderReportFromDir } from './report/index.js';
export { type ExperimentResults, parseResults, type SwapRecord } from './results/schema.js';
export { APPS, echo, stream } from './serve/apps.js';
export { ServeClient } from './serve/client.js';
export {
  type App,
  type Connection,
  type ConnectionHandler,
  MigratableServer,
  type MigrationPeer,
  type ServerOptions,
} from './serve/runtime.js';
export {
  cancelCheckpoint,
  checkpoint,
  restore,
  socketFd,
  socketFromFd,
  tcpRepairUnavailable,
} from './tcp-repair/index.js';
export type { RestoredSocket, TcpSocketState } from './tcp-repair/types.js';
