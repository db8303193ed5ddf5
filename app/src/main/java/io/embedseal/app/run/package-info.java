/** {@code embedseal run}: the sealing pipeline against a real cluster, from a configuration file. */
package io.embedseal.app.run;
