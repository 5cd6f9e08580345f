/**
 * The symbol registry in a NATS KV bucket: which process publishes each
 * (exchange, symbol), with a heartbeat that expires (see docs/nats.md,
 * "Symbol registry"). Publishers claim their symbols
 * ({@linkcode SymbolClaims}); consumers discover symbols and check their
 * publishers ({@linkcode PublisherWatch}).
 *
 * @module
 */

// The bucket and its compare-and-set writes.
export { RegistryBucket, RevisionConflictError } from "./_bucket.ts";
// Connecting: the registry's own connection.
export {
  type OpenRegistry,
  openRegistry,
  type OpenRegistryOptions,
  RegistryUnreachableError,
} from "./connect.ts";
// This host's name, as entries give it.
export { hostName, sameHost } from "./host.ts";
// One entry.
export {
  describeOwner,
  entryKey,
  type EntryPlace,
  type EntryState,
  type EntryStatus,
  entryStatus,
  standbyKey,
  type StoredEntry,
  type SymbolEntry,
} from "./entry.ts";
// The publisher's end.
export {
  type ClaimDetails,
  leaseMarginMs,
  type LiveOwner,
  type LostClaim,
  type PublisherIdentity,
  SymbolClaims,
  type SymbolClaimsOptions,
  type TakeOver,
} from "./claims.ts";
// The consumer's end.
export {
  type PublisherCheck,
  PublisherWatch,
  type PublisherWatchOptions,
} from "./watch.ts";
