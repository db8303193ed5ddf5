/**
 * Tenant keys without Kafka: the {@link io.embedseal.keyring.Keyring} facade that hands out one active
 * data-encryption key per tenant and opens the DEKs of sealed records, tenant id rules and KEK naming.
 */
package io.embedseal.keyring;
