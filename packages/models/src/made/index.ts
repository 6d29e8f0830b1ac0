// Owned by the made engineer (see the issue).
export {};
