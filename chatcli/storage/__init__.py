"""Everything chatcli keeps on disk or reads from it: private atomic files, conversation files, the SQLite
library and its recorder, input files, the user directories. Imports only chatcli.core."""
