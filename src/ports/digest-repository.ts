import type { CategoryDigest } from '../domain/category.js'
import type { Digest, DigestGroup } from '../domain/digest.js'
import type { JsonValue } from '../domain/outbox-message.js'
import type { TenantScope } from '../domain/tenant-scope.js'

/** Items held in one channel's open digests. */
export interface DigestHeld {
  readonly infrastructureId: string
  readonly channelId: string
  readonly items: number
}

/** What a notify folds into a digest: its notification and its `data`. */
export interface NewDigestItem {
  readonly notificationId: string
  readonly data: JsonValue
}

/**
 * Digests of categories (docs/notify.md, "Digests"). Time is the store's (PostgreSQL's
 * `messaging_now()`). Every change of a digest takes its one row, so adding an item and
 * closing the digest exclude each other: an item is in exactly one digest, and a closed
 * digest's items never change. Those who notify (`infra_admin`, `service`) open and add to
 * digests; those and the worker close them. Outside the scope nothing is read or changed.
 */
export interface DigestRepository {
  /**
   * Adds the item to the group's open digest (not closed, window not ended, not full), and
   * closes the digest when the item fills it. Returns the digest with the item, or null when
   * the group has no open digest (one whose window ended is closed on the way).
   */
  append(scope: TenantScope, group: DigestGroup, item: NewDigestItem): Promise<Digest | null>
  /**
   * Opens the group's digest with its first item, its window starting at the store's now.
   * Null when another unit of work opened the group's digest first: append to that one.
   */
  open(
    scope: TenantScope,
    group: DigestGroup,
    digest: { readonly id: string; readonly settings: CategoryDigest },
    item: NewDigestItem,
  ): Promise<Digest | null>
  /**
   * Closes a digest (its delivery is going out): its item list is fixed from here on, the
   * close time kept if it was closed before. Returns it with its items; null when absent or
   * outside the scope.
   */
  close(scope: TenantScope, infrastructureId: string, id: string): Promise<Digest | null>
  /** A digest as it stands; null when absent or outside the scope. */
  find(scope: TenantScope, infrastructureId: string, id: string): Promise<Digest | null>
  /** The digests holding an item of the notification, in any state; [] outside the scope. */
  ofNotification(scope: TenantScope, infrastructureId: string, notificationId: string): Promise<Digest[]>
  /**
   * Per tenant and channel, the items held in digests not yet closed (cancelled ones
   * included until the close), within the scope (`infra_admin` and `service` only: [] for
   * others); only channels holding some. An operator's read, not the hot path.
   */
  held(scope: TenantScope, filter: { readonly infrastructureId?: string }): Promise<DigestHeld[]>
  /**
   * Marks the notification's items cancelled in every digest not yet closed (a closed
   * digest's items are fixed: they go out). Returns the digests it changed.
   */
  withdraw(scope: TenantScope, infrastructureId: string, notificationId: string): Promise<Digest[]>
}
