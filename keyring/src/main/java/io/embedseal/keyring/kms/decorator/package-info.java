/**
 * Behaviour that wraps any {@link io.embedseal.keyring.kms.Kms}: retry with jittered backoff on
 * "unavailable", call counting and timing, and one audit event per operation. Providers know none of it.
 */
package io.embedseal.keyring.kms.decorator;
