/** The hash-chained entries of the audit topic ({@code keyring.audit}): writing a producer's chain and verifying chains. */
package io.embedseal.control.audit;
