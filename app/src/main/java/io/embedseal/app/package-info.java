/** The {@code embedseal} command line. */
package io.embedseal.app;
