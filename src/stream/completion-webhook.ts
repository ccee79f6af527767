/**
 * Deliveries of the completion webhook tried before giving up (about two and a half minutes of
 * back-off): a consumer gone for good must not keep a complete stream open for ever. The workflow
 * retries that many times; the activity counts its last failure as given up.
 */
export const WEBHOOK_ATTEMPTS = 8;
