// Nothing but the runtime's start and exit: the floor for any NativeAOT tool (bench/gate/run.sh).
return 0;
