"""Opens deepcd's XDMF outputs with ParaView's XDMF reader and checks what it
sees (run by scripts/check-paraview.sh under pvbatch and Xvfb; docs/mesh.md).

usage: pvbatch check-paraview.py DIR NX NY NZ SURF_V SURF_T TETS_V TETS_N TETS_B GEO_V GEO_T OUT.png
"""
import os
import sys

from paraview import servermanager
from paraview.simple import ColorBy, GetActiveViewOrCreate, Render, ResetCamera, SaveScreenshot, Show, Slice, XDMFReader
from vtkmodules.vtkCommonDataModel import VTK_TETRA, VTK_TRIANGLE
from vtkmodules.vtkFiltersVerdict import vtkMeshQuality

failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def fetch(path):
    reader = XDMFReader(FileNames=[path])
    reader.UpdatePipeline()
    return reader, servermanager.Fetch(reader)


def blocks(data):
    """{name: dataset} of a multiblock dataset."""
    out = {}
    for i in range(data.GetNumberOfBlocks()):
        name = data.GetMetaData(i).Get(data.NAME()) if data.HasMetaData(i) else str(i)
        out[name] = data.GetBlock(i)
    return out


def cell_types(grid):
    return {grid.GetCellType(i) for i in range(grid.GetNumberOfCells())}


def check_surface(grid, nv, nt, what):
    check(grid is not None, f"{what}: a dataset")
    if grid is None:
        return
    check(grid.GetNumberOfPoints() == nv, f"{what}: {grid.GetNumberOfPoints()} points (expected {nv})")
    check(grid.GetNumberOfCells() == nt, f"{what}: {grid.GetNumberOfCells()} cells (expected {nt})")
    check(cell_types(grid) == {VTK_TRIANGLE}, f"{what}: all cells are triangles")


def check_solution(grid, dims, what):
    check(grid is not None, f"{what}: a dataset")
    if grid is None:
        return
    n = dims[0] * dims[1] * dims[2]
    check(grid.GetNumberOfCells() == n, f"{what}: {grid.GetNumberOfCells()} cells (expected {n})")
    check(grid.GetNumberOfPoints() == (dims[0] + 1) * (dims[1] + 1) * (dims[2] + 1), f"{what}: {grid.GetNumberOfPoints()} points")
    names = [grid.GetCellData().GetArrayName(i) for i in range(grid.GetCellData().GetNumberOfArrays())]
    check(names == ["x"], f"{what}: cell arrays {names} (expected ['x'])")
    if "x" in names:
        lo, hi = grid.GetCellData().GetArray("x").GetRange()
        check(lo == lo and hi == hi and lo <= hi, f"{what}: x ranges over [{lo:g}, {hi:g}]")


def main(argv):
    d = argv[1]
    nx, ny, nz, sv, st, tv, tn, tb, gv, gt = (int(a) for a in argv[2:12])
    png = argv[12]

    _, sol = fetch(f"{d}/sol.xmf")
    check_solution(sol, (nx, ny, nz), "solution sol.xmf")

    surf_reader, surf = fetch(f"{d}/s.xdmf")
    check_surface(surf, sv, st, "surface s.xdmf")

    _, tets = fetch(f"{d}/t.xdmf")
    b = blocks(tets)
    check(sorted(b) == ["surface", "tetrahedra"], f"tets t.xdmf: blocks {sorted(b)}")
    check_surface(b.get("surface"), tv, tb, "tets t.xdmf, block surface")
    t = b.get("tetrahedra")
    if t is not None:
        check(t.GetNumberOfPoints() == tv and t.GetNumberOfCells() == tn, f"tets t.xdmf, block tetrahedra: {t.GetNumberOfPoints()} points, {t.GetNumberOfCells()} cells (expected {tv}, {tn})")
        check(cell_types(t) == {VTK_TETRA}, "tets t.xdmf: all cells are tetrahedra")
        q = vtkMeshQuality()
        q.SetInputData(t)
        q.SetTetQualityMeasureToVolume()
        q.Update()
        vol = q.GetOutput().GetCellData().GetArray("Quality")
        lo, hi = vol.GetRange()
        total = sum(vol.GetValue(i) for i in range(vol.GetNumberOfTuples()))
        check(lo > 0, f"tets t.xdmf: VTK's signed volumes in [{lo:.3e}, {hi:.3e}], total {total:.6f}")

    geo_reader, geo = fetch(f"{d}/geo.xdmf")
    b = blocks(geo)
    check(sorted(b) == ["geometry", "solution"], f"collection geo.xdmf: blocks {sorted(b)}")
    check_solution(b.get("solution"), (nx, ny, nz), "collection geo.xdmf, block solution")
    check_surface(b.get("geometry"), gv, gt, "collection geo.xdmf, block geometry")

    # one picture: the obstacle surfaces over a slice of the solution
    view = GetActiveViewOrCreate("RenderView")
    view.ViewSize = [800, 600]
    Show(surf_reader, view)
    sl = Slice(Input=geo_reader)
    sl.SliceType.Normal = [0, 0, 1]
    ColorBy(Show(sl, view), ("CELLS", "x"))
    ResetCamera(view)
    view.CameraPosition = [2.2, -1.6, 2.0]
    view.CameraFocalPoint = [0.5, 0.5, 0.5]
    view.CameraViewUp = [0, 0, 1]
    Render(view)
    SaveScreenshot(png, view, ImageResolution=[800, 600])
    check(os.path.exists(png) and os.path.getsize(png) > 1000, f"rendered {png}")

    print(f"check-paraview: {len(failures)} failure(s)")
    return 1 if failures else 0


# os._exit: ParaView's teardown under Xvfb can raise an X error (GLXBadContext)
# after the work is done; the status is ours
sys.stdout.flush()
os._exit(main(sys.argv))
