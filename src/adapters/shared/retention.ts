import type { PruneOptions } from '../../ports/unit-of-work.js'

/** A prune's cut-off as a time: the host's own, or its age back from the store's now. */
export const cutOff = (olderThan: PruneOptions['olderThan'], now: Date): Date =>
  olderThan instanceof Date ? olderThan : new Date(now.getTime() - Math.max(0, olderThan.ageMs))
