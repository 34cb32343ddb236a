// Nothing to import: this target only supplies the entry point SwiftPM's debug link asks for (see driver.c).
