/**
 * Environment every test file starts with (jest `setupFiles`).
 *
 * Load shedding on event-loop delay is off in test hubs: three jest workers share two cores, and a PGlite hub runs
 * its database on its own event loop, so a stalled loop there says nothing about the hub, while the shedder would
 * turn a test's request away with a 429 (seen: a waiting-room join refused right after the first booking planned
 * the claim function's statements on a loaded machine). The shedding tests build their own LoadShedder.
 */
process.env.SHED_MAX_EVENT_LOOP_DELAY_MS ??= '60000';
