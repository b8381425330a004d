# One ordered pair of cross-language peers on one ring (tests/bindings/xpeer-protocol.md): the receiver and the
# sender run at the same time as two processes (execute_process starts all its COMMANDs together); both must
# exit 0 and the receiver's last line must be "ok <count> <kind>". The segment is removed afterwards, pass or fail.
#   cmake -DRECV=<cmd;args> -DSEND=<cmd;args> -DKIND=k -DCOUNT=n -DNAME=ring -P xpeer_pair.cmake
# RECV and SEND are lists: a peer program, or mono and xpeer.exe.
set(common --kind ${KIND} --name ${NAME} --count ${COUNT} --seed 20261202)
file(REMOVE /dev/shm/shmring-${NAME})
# The sender's standard output goes to standard error: the pipe execute_process puts between the two commands is
# never read by the receiver, and a write into it after the receiver exited would fail the sender.
execute_process(COMMAND sh -c "exec \"$@\" 1>&2" sh ${SEND} --role send ${common}
                COMMAND ${RECV} --role recv ${common}
                RESULTS_VARIABLE codes OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 240)
file(REMOVE /dev/shm/shmring-${NAME})
string(STRIP "${out}" out)
if(NOT codes STREQUAL "0;0" OR NOT out MATCHES "(^|\n)ok ${COUNT} ${KIND}$")
  message(FATAL_ERROR "sender and receiver exited ${codes}; receiver said \"${out}\"; stderr: ${err}")
endif()
message(STATUS "${out}")
