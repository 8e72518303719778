// What each fault-matrix row proves, by row id, in the order the suite runs them: RELIABILITY.md
// prints it beside the row's figures (and names the rows not measured yet), and the fault matrix
// refuses a row that does not say what it proves.
export const FAULT_ROW_CLAIMS: Record<string, string> = {
  'vendor-5xx': 'a vendor 500 answered before processing is retried inside the chunk: no member lost, none sent twice, the run succeeds',
  '429-storms':
    'bursts of 429 with Retry-After are waited out, not counted as failures: no chunk fails and no batch the vendor took is sent again',
  'slow-vendor':
    'a call abandoned at the client timeout but processed by the vendor anyway is retried; the only repeats are those batches (upserts of the same data), bounded per member, and none is lost',
  'connection-resets': 'a socket destroyed without an answer is retried: no member lost, none sent twice',
  'host-killed-twice':
    'progress survives the host dying: chunks resume from the last batch acknowledged in the ledger, so only the batches in flight at each kill are sent again, and none is lost',
  'azurite-restarted':
    'storage (queues, tables, blobs) gone for seconds mid-run neither loses members nor ends the run: the work resumes from the ledger',
  'key-vault-outage':
    'Key Vault unreachable for longer than the 60 s secret cache mid-run: senders go on with the secrets they last read and the run succeeds',
  'key-vault-down-at-start':
    "Key Vault unreachable before any secret is cached: planning and chunks wait outside the queue's five attempts, nothing is poisoned, and the run succeeds once it answers",
  'secret-rotated':
    'an API key replaced mid-run, the vendor refusing the old one at once, is picked up (a refused key forces a fresh Key Vault read): none lost',
  'segment-refreshed': 'a run sends the snapshot it planned: a new lake generation landing mid-run adds none of its members to the list',
  'poison-message':
    'a chunk that can never succeed (its partition removed) goes to the poison queue after 5 attempts and ends the run partially succeeded with the reason; its members are reported, every other member delivered',
  'documented-rate-under-timeout':
    "at Campaign Monitor's documented 2 requests/s, with functionTimeout 20 s and 2 host instances, a whole export fits the runtime's rules: every sender invocation ends inside functionTimeout, none fails, no message reaches a poison queue, and every member is delivered exactly once",
  'function-timeout':
    'an invocation past functionTimeout is failed by the host and its worker recycled with everything in flight on it; the messages come back and the chunks resume from their last acknowledged batch: none lost, re-sends bounded',
  'instance-killed':
    "scale-out: with two instances on the same queues and tables, one killed mid-run, the other goes on and the killed one's messages come back: none lost, re-sends bounded to its batches in flight",
  'cancel-during-planning':
    'a cancel while the planner holds the run is final: the planner never sets the run running again, and its end is written once',
  'duplicate-emails':
    'a member whose email appears twice in a segment, in different chunks (other case, spaces), is sent once; the other row is skipped as duplicateEmail and reported',
  'plan-message-lost':
    'a run whose plan message never arrived is re-driven by the recovery sweep on its own (within 5 minutes at the default patience), planned and completed; its export is not left claimed',
};
