// Owned by the iaf engineer (see the issue).
export {};
