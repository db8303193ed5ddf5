/** What travels on the sealed topic: its record key, and (in sub-packages) the envelope and the Avro codec. */
package io.embedseal.serdes;
