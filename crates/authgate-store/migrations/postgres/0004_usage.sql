-- Requests per application per minute, by outcome (SPEC §1 `apps usage`, §7). Gateways add to
-- these counters in batches, never once per request.
-- outcome: `allowed`, `denied:<code>` (the refusal's machine code), or `status:<N>xx`.
CREATE TABLE usage_counts (
    application_id  TEXT NOT NULL,
    minute          BIGINT NOT NULL,   -- Unix seconds at the start of the minute
    outcome         TEXT NOT NULL,
    count           BIGINT NOT NULL,
    PRIMARY KEY (application_id, minute, outcome)
);
