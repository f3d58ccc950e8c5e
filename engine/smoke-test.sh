#!/usr/bin/env bash
# Smoke test of a running engine through its REST API (curl + python3).
#
#   engine/smoke-test.sh [BASE_URL] [curl auth args...]
#   engine/smoke-test.sh http://localhost:8080/engine-rest
#   engine/smoke-test.sh http://localhost:8080/engine-rest -u demo:demo
#   engine/smoke-test.sh http://localhost:8080/engine-rest -H 'Authorization: Bearer XYZ'
#
# Deploys a process with one external task (topic "smoke-hello", camunda: namespace),
# starts it, fetches and locks the task, completes it with a Json variable, checks the
# variable in history, checks that the engine's default serialization format is JSON,
# and that long polling (asyncResponseTimeout 2000) returns [] after about 2 s.
set -uo pipefail

BASE="${1:-http://localhost:${PORT:-8080}/engine-rest}"
[[ $# -gt 0 ]] && shift
AUTH=("$@")
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
PASS=0
FAIL=0

ok()   { echo "ok   $*"; PASS=$((PASS + 1)); }
bad()  { echo "FAIL $*"; FAIL=$((FAIL + 1)); }
req()  { curl -s "${AUTH[@]+"${AUTH[@]}"}" "$@"; }
post() { local url="$1" data="$2"; shift 2; req -H 'Content-Type: application/json' -d "$data" "$@" "$BASE$url"; }
# json EXPR < json : evaluate a python expression on the parsed document "d"
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" 2>/dev/null; }

cat >"$TMP/smoke.bpmn" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="smoke_defs" targetNamespace="http://example.com/smoke">
  <bpmn:process id="smoke_process" isExecutable="true" camunda:historyTimeToLive="P1D">
    <bpmn:startEvent id="start">
      <bpmn:extensionElements>
        <!-- stores a Java object: shows the engine's default serialization format -->
        <camunda:executionListener event="end" expression="${execution.setVariable('snapshot', execution.getVariables())}"/>
      </bpmn:extensionElements>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="hello"/>
    <bpmn:serviceTask id="hello" camunda:type="external" camunda:topic="smoke-hello"/>
    <bpmn:sequenceFlow id="f2" sourceRef="hello" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
EOF

code="$(req -o /dev/null -w '%{http_code}' "$BASE/version")"
[[ "$code" == 200 ]] && ok "GET /version: $(req "$BASE/version")" || { bad "GET /version -> HTTP $code"; exit 1; }

dep="$(req -F deployment-name=smoke -F enable-duplicate-filtering=true -F "smoke.bpmn=@$TMP/smoke.bpmn" "$BASE/deployment/create")"
[[ -n "$(echo "$dep" | json 'd["id"]')" ]] && ok "deployment/create" || bad "deployment/create: $dep"

BK="smoke-$$-$RANDOM"
pi="$(post /process-definition/key/smoke_process/start '{"businessKey":"'"$BK"'","variables":{"n":{"value":1,"type":"Integer"}}}' | json 'd["id"]')"
[[ -n "$pi" ]] && ok "process started: $pi" || bad "process start"

fmt="$(req "$BASE/variable-instance?processInstanceIdIn=$pi&variableName=snapshot&deserializeValues=false" \
  | json 'd[0]["valueInfo"]["serializationDataFormat"]')"
[[ "$fmt" == application/json ]] && ok "default serialization format: $fmt" || bad "default serialization format: '$fmt'"

task=""
for _ in 1 2 3 4 5; do
  task="$(post /external-task/fetchAndLock \
    '{"workerId":"smoke","maxTasks":1,"topics":[{"topicName":"smoke-hello","lockDuration":10000,"businessKey":"'"$BK"'"}]}' \
    | json 'd[0]["id"]')"
  [[ -n "$task" ]] && break
  sleep 0.5
done
[[ -n "$task" ]] && ok "fetchAndLock: task $task" || bad "fetchAndLock returned no task"

code="$(post "/external-task/$task/complete" \
  '{"workerId":"smoke","variables":{"doc":{"value":"{\"a\":[1,2]}","type":"Json"}}}' -o /dev/null -w '%{http_code}')"
[[ "$code" == 204 ]] && ok "complete with Json variable" || bad "complete -> HTTP $code"

hv="$(req "$BASE/history/variable-instance?processInstanceId=$pi&variableName=doc&deserializeValues=false")"
t="$(echo "$hv" | json 'd[0]["type"]')"; v="$(echo "$hv" | json 'd[0]["value"]')"
[[ "$t" == Json && "$v" == '{"a":[1,2]}' ]] && ok "history: doc is $t $v" || bad "history variable: $hv"

state="$(req "$BASE/history/process-instance/$pi" | json 'd["state"]')"
[[ "$state" == COMPLETED ]] && ok "process instance $state" || bad "process instance state '$state'"

t0="$(date +%s%N)"
lp="$(post /external-task/fetchAndLock \
  '{"workerId":"smoke","maxTasks":1,"asyncResponseTimeout":2000,"topics":[{"topicName":"smoke-nothing","lockDuration":1000}]}')"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[[ "$lp" == "[]" && $ms -ge 1800 && $ms -lt 6000 ]] && ok "long poll: [] after ${ms} ms" || bad "long poll: '$lp' after ${ms} ms"

echo "$PASS passed, $FAIL failed"
[[ $FAIL -eq 0 ]]
