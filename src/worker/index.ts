export {
  createDeliveryWorker,
  type DeliveryWorker,
  type DeliveryWorkerEvents,
  type DeliveryWorkerOptions,
  type WorkerLogger,
} from './delivery-worker.js'
export { TokenBuckets } from './token-bucket.js'
