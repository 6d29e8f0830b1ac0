// The autoencoder family (issue 4): owned by the autoencoder engineer.
export {};
