"""The network side of the data path: the zoo, any wrapped module, preprocessing, layer names."""
