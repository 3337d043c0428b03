# A CWL CommandLineTool to deploy as a process (README, "Deploying CWL"):
#   curl -X POST "$B/processes" -H "Authorization: Bearer $TOKEN" \
#     -H 'Content-Type: application/cwl' --data-binary @examples/cwl/shout.cwl
# It runs the local base image (examples/base/build.sh builds ades-busybox:latest).
cwlVersion: v1.2
class: CommandLineTool
id: shout
label: Shout
doc: Upper-cases a text file and says how long it was.
$namespaces:
  s: https://schema.org/
  iana: https://www.iana.org/assignments/media-types/
s:softwareVersion: 1.0.0
s:keywords: [text, example]
requirements:
  DockerRequirement: {dockerPull: "ades-busybox:latest"}
  ResourceRequirement: {coresMin: 1, ramMin: 64}
baseCommand: [sh, -c, 'tr a-z A-Z < "$0" > upper.txt; wc -c < "$0" | tr -d " " > count.txt']
inputs:
  text:
    type: File
    format: iana:text/plain
    inputBinding: {position: 1}
outputs:
  upper:
    type: File
    format: iana:text/plain
    outputBinding: {glob: upper.txt}
  count:
    type: string
    outputBinding: {glob: count.txt, loadContents: true, outputEval: "$(self[0].contents)"}
