"""The supervisor: binds, forks, watches and replaces workers; owns the signals."""
