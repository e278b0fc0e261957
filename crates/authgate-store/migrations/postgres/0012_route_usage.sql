-- Requests per route per minute, by outcome, beside `usage_counts` (per application): the
-- totals per route and decision of the admin API and the dashboard. Every request a route
-- matched counts here, with a credential or without. Same outcomes as usage_counts.
CREATE TABLE route_usage_counts (
    route    TEXT NOT NULL,      -- the route's configured name
    minute   BIGINT NOT NULL,   -- Unix seconds at the start of the minute
    outcome  TEXT NOT NULL,
    count    BIGINT NOT NULL,
    PRIMARY KEY (route, minute, outcome)
);
