/**
 * The sealed envelope, version 1: the byte layout (see {@code docs/envelope-format.md}), sealing, and
 * unsealing with classified failures.
 */
package io.embedseal.serdes.envelope;
