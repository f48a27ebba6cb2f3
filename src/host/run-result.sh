# shellcheck shell=bash
# The result tests of a `run` step, sent only with steps that have changed_when or
# failed_when (orch_run calls orch_run_judged then). Needs prelude.sh, command.sh, run.sh.
#
# changed_when and failed_when (docs/reference/playbook.md): Ansible's keys, Puppet's detailed exit codes.
# A test is three arguments KIND EXITS NEEDLE:
#   KIND    true (always holds) | false (never) | test | not-exit
#   EXITS   comma-separated exit codes: `test` holds only when the command's exit code is
#           one of them ('' = any code); `not-exit` holds when it is NOT one of them
#   NEEDLE  '' = no stdout test; `=TEXT`: `test` holds only when stdout contains TEXT
# A `test` with both EXITS and NEEDLE holds when both do.

# orch_run_in LIST CODE: whether CODE is one of the comma-separated LIST.
orch_run_in() {
  case ",$1," in *",$2,"*) return 0 ;; esac
  return 1
}

# orch_run_test RC OUTFILE KIND EXITS NEEDLE: whether the test holds for exit code RC
# and the stdout saved in OUTFILE.
orch_run_test() {
  local rc=$1 out=$2 kind=$3 exits=$4 needle=$5 text
  case "$kind" in
    true) return 0 ;;
    false) return 1 ;;
    not-exit) ! orch_run_in "$exits" "$rc"; return ;;
    test)
      if [ -n "$exits" ] && ! orch_run_in "$exits" "$rc"; then return 1; fi
      if [ -n "$needle" ]; then
        text=$(cat -- "$out")
        [[ "$text" == *"${needle#=}"* ]] || return 1
      fi
      return 0
      ;;
  esac
  return 1
}

# orch_run_judged CMD CW_KIND CW_EXITS CW_NEEDLE FW_KIND FW_EXITS FW_NEEDLE FW_TEXT:
# runs the function CMD (orch_user_command), its stdout kept in a temp file and then
# printed, and decides in this order: failed when the failed test (FW_*) holds — FW_TEXT
# (when not empty) on stderr, exit status the command's own when not 0, else 1;
# otherwise status changed when the changed test (CW_*) holds, else ok.
orch_run_judged() {
  local rc
  orch_run_out=$(mktemp)
  trap 'rm -f -- "$orch_run_out"' EXIT
  orch_user_command "$1" >"$orch_run_out"
  rc=$ORCH_RC
  cat -- "$orch_run_out"
  if orch_run_test "$rc" "$orch_run_out" "$5" "$6" "$7"; then
    [ -z "$8" ] || printf '%s (exit %s)\n' "$8" "$rc" >&2
    [ "$rc" != 0 ] || rc=1
    exit "$rc"
  fi
  if orch_run_test "$rc" "$orch_run_out" "$2" "$3" "$4"; then
    orch_status changed
  else
    orch_status ok
  fi
}
