/** The operator's Kubernetes runtime: what the controller builds on. See README.md beside this file. */
export {
  AbortedError,
  classifyApiError,
  ConflictError,
  errorFromResponse,
  errorFromStatus,
  ForbiddenError,
  GoneError,
  ignoreNotFound,
  InvalidError,
  KubeError,
  NotFoundError,
  TerminalError,
  TransientError,
  type ApiStatus,
  type KubeErrorKind,
  type StatusCause,
} from "./errors.ts";
export {
  backoffDelay,
  isAborted,
  realClock,
  sleep,
  type BackoffOptions,
  type Clock,
  type Timer,
} from "./clock.ts";
export { noopLogger, type LogFn, type Logger } from "./logger.ts";
export {
  controllerKey,
  controllerOf,
  deepFreeze,
  microTime,
  objectKey,
  splitKey,
  type DeepReadonly,
  type Event,
  type KubeObject,
  type Lease,
  type ObjectMeta,
  type OwnerReference,
  type Pod,
  type ReplicaSet,
  type Service,
  type Wire,
} from "./objects.ts";
export { indexByControllerUid, indexByLabel, Store, type IndexFunc, type ReadonlyStore } from "./store.ts";
export {
  Informer,
  type InformerEvent,
  type InformerHandler,
  type InformerMetrics,
  type InformerOptions,
  type ListReason,
  type ListResult,
  type ListWatch,
  type WatchEvent,
  type WatchOptions,
  type WatchRestartReason,
} from "./informer.ts";
export {
  runWorkers,
  WorkQueue,
  type ReconcileHandler,
  type ReconcileOutcome,
  type ReconcileResult,
  type WorkerOptions,
  type WorkQueueMetrics,
  type WorkQueueOptions,
} from "./workqueue.ts";
export {
  LeaderElector,
  type ElectionEnd,
  type LeaderElectionOptions,
  type LeaseClient,
} from "./leaderelection.ts";
export {
  EventRecorder,
  type DropReason,
  type EventInput,
  type EventRecorderOptions,
  type EventSeriesPatch,
  type EventSink,
  type EventType,
} from "./events.ts";
export {
  EVENTS,
  KubeClient,
  LEASES,
  modelEndpoints,
  PODS,
  REPLICASETS,
  ResourceClient,
  SERVICES,
  type ApplyOptions,
  type CallOptions,
  type DeleteOptions,
  type KubeClientOptions,
  type ResourceType,
  type Selector,
} from "./client.ts";
export { KubeConfigTransport, type HttpRequest, type StreamRequest, type Transport } from "./transport.ts";
