/** Bash fragments shared by the host-side scripts orch generates (facts, query, segments). */

/** `b64`: stdin as one line of base64 (GNU `-w0`, else folded output joined). */
export const B64_FN = "b64() { base64 -w0 2>/dev/null || base64 | tr -d '\\n'; }";
