/** Development only: an OpenBao dev server started from its {@code bao} binary, for the demo and the tests. */
package io.embedseal.openbao.dev;
