"""Analyses of the trained grid: dynamics, forecasting, transitions, change points, logistic fits, scaling laws."""
