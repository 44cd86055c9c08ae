// The dashboard's entry point (the UI helper replaces this scaffold with the real app).
import "uplot/dist/uPlot.min.css";
const root = document.getElementById("app");
if (root) root.textContent = "inloop";
