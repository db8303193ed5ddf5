/**
 * The KMS interface every provider implements, the KEK reference, and the typed failures a KMS can report.
 */
package io.embedseal.keyring.kms;
