/** Real parts for tests and the embedded demo: an in-process single-node KRaft broker ready for exactly-once. */
package io.embedseal.testkit;
